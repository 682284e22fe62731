"""Domain errors. Each carries the code, message and HTTP status of Dify's error envelope,
so that adapters (HTTP, CLI) can report them without knowing the domain."""


class ServiceError(Exception):
    code = "internal_server_error"
    status = 500
    default_message = "Internal server error."
    headers: dict[str, str] | None = None  # extra HTTP headers, e.g. Retry-After

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidParam(ServiceError):
    code = "invalid_param"
    status = 400
    default_message = "Invalid parameter."


class BadRequest(ServiceError):
    code = "bad_request"
    status = 400
    default_message = "The browser (or proxy) sent a request that this server could not understand."


class Unauthorized(ServiceError):
    code = "unauthorized"
    status = 401
    default_message = "Access token is invalid"


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403
    default_message = "You don't have the permission to access the requested resource."


class NotFound(ServiceError):
    code = "not_found"
    status = 404
    default_message = (
        "The requested URL was not found on the server. "
        "If you entered the URL manually please check your spelling and try again."
    )


class DatasetNameDuplicate(ServiceError):
    code = "dataset_name_duplicate"
    status = 409
    default_message = "The dataset name already exists. Please modify your dataset name."


class DatasetInUse(ServiceError):
    code = "dataset_in_use"
    status = 409
    default_message = (
        "The dataset is being used by some apps. Please remove the dataset from the apps before deleting it."
    )


class DatasetIndexingInProgress(ServiceError):
    code = "dataset_indexing_in_progress"
    status = 409
    default_message = (
        "Some documents in this dataset are still being indexed. "
        "Wait for indexing to finish or pause the documents before deleting the dataset."
    )


class ArchivedDocumentImmutable(ServiceError):
    code = "archived_document_immutable"
    status = 403
    default_message = "The archived document is not editable."


class DocumentIndexing(ServiceError):
    code = "document_indexing"
    status = 400
    default_message = "The document is being processed and cannot be edited."


class DocumentAlreadyFinished(ServiceError):
    code = "document_already_finished"
    status = 400
    default_message = (
        "The document has been processed. Please refresh the page or go to the document details."
    )


class InvalidAction(ServiceError):
    code = "invalid_action"
    status = 400
    default_message = "Invalid action."


class InvalidMetadata(ServiceError):
    code = "invalid_metadata"
    status = 400
    default_message = "The metadata content is incorrect. Please check and verify."


class NoFileUploaded(ServiceError):
    code = "no_file_uploaded"
    status = 400
    default_message = "Please upload your file."


class TooManyFiles(ServiceError):
    code = "too_many_files"
    status = 400
    default_message = "Only one file is allowed."


class FilenameNotExists(ServiceError):
    code = "filename_not_exists_error"
    status = 400
    default_message = "The specified filename does not exist."


class StorageFull(ServiceError):
    code = "insufficient_storage"
    status = 507
    default_message = "Storage is full: the service could not write the data. Free some space and retry."


class FileTooLarge(ServiceError):
    code = "file_too_large"
    status = 413
    default_message = "File size exceeded."


class UnsupportedFileType(ServiceError):
    code = "unsupported_file_type"
    status = 415
    default_message = "File type not allowed."


class PipelineRunError(ServiceError):
    code = "pipeline_run_error"
    status = 500
    default_message = "An error occurred while running the pipeline."


def _unreachable_dependencies() -> dict[str, tuple[type[BaseException], ...]]:
    from concurrent.futures.process import BrokenProcessPool

    from kombu.exceptions import OperationalError as BrokerUnreachable
    from qdrant_client.http import exceptions as qdrant_exceptions
    from redis import exceptions as redis_exceptions
    from sqlalchemy import exc as sqlalchemy_exc

    return {
        "database": (
            sqlalchemy_exc.OperationalError, sqlalchemy_exc.InterfaceError, sqlalchemy_exc.DisconnectionError,
        ),
        "Redis": (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, BrokerUnreachable),
        "search engine": (qdrant_exceptions.ResponseHandlingException,),
        "embedding model": (BrokenProcessPool,),  # its processes died; new ones are starting
    }  # fmt: skip


# The errors by which each dependency tells it cannot be reached: the API answers them 503, and work
# that met them is done again, with back-off, once the dependency is back.
UNREACHABLE = _unreachable_dependencies()


def _dependency_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (
        *(error for errors in UNREACHABLE.values() for error in errors),
        httpx.TransportError,
        ConnectionError,
    )


# Failures of a dependency (those above, and a model API's connection), not of the work itself.
DEPENDENCY_ERRORS = _dependency_errors()


def is_dependency_failure(error: BaseException) -> bool:
    """Also a hosted API that stayed unreachable or overloaded through its own retries."""
    return isinstance(error, DEPENDENCY_ERRORS) or getattr(error, "transient", False)
