"""The datasets API against SQLite and PostgreSQL."""

from sqlalchemy import select

from core.database import session_scope, utcnow
from core.datasets.models import Dataset
from core.documents.models import Document
from core.workspaces.models import Account
from tests.helpers import assert_error, create_dataset

DATASET_FIELDS = set(
    [
        "id",
        "name",
        "description",
        "provider",
        "permission",
        "data_source_type",
        "indexing_technique",
        "app_count",
        "document_count",
        "word_count",
        "created_by",
        "author_name",
        "created_at",
        "updated_by",
        "updated_at",
        "embedding_model",
        "embedding_model_provider",
        "embedding_available",
        "retrieval_model_dict",
        "summary_index_setting",
        "tags",
        "doc_form",
        "external_knowledge_info",
        "external_retrieval_model",
        "doc_metadata",
        "built_in_field_enabled",
        "pipeline_id",
        "runtime_mode",
        "chunk_structure",
        "icon_info",
        "is_published",
        "enable_api",
        "is_multimodal",
        "total_documents",
        "total_available_documents",
        "maintainer",
    ]
)

RETRIEVAL_MODEL = {
    "search_method": "hybrid_search",
    "reranking_enable": False,
    "reranking_mode": "weighted_score",
    "weights": {
        "weight_type": "customized",
        "vector_setting": {"vector_weight": 0.7, "embedding_provider_name": "", "embedding_model_name": ""},
        "keyword_setting": {"keyword_weight": 0.3},
    },
    "top_k": 5,
    "score_threshold_enabled": True,
    "score_threshold": 0.4,
}


def test_create_empty_dataset_has_every_contract_field(client, tenant):
    body = create_dataset(client, tenant, "Handbook", description="Company handbook")
    assert set(body) == DATASET_FIELDS
    assert body["name"] == "Handbook" and body["description"] == "Company handbook"
    assert body["provider"] == "vendor" and body["permission"] == "only_me"
    assert body["indexing_technique"] is None and body["embedding_model"] is None
    assert body["document_count"] == 0 and body["word_count"] == 0 and body["app_count"] == 0
    assert body["author_name"] == "acme" and isinstance(body["created_at"], int)
    assert body["retrieval_model_dict"] == {
        "search_method": "semantic_search",
        "reranking_enable": False,
        "reranking_mode": None,
        "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
        "weights": None,
        "top_k": 2,
        "score_threshold_enabled": False,
        "score_threshold": None,
    }
    assert body["summary_index_setting"] == {
        "enable": None, "model_name": None, "model_provider_name": None, "summary_prompt": None
    }  # fmt: skip
    assert body["tags"] == [] and body["doc_metadata"] == [] and body["embedding_available"] is True
    assert body["runtime_mode"] == "general" and body["enable_api"] is True


def test_high_quality_dataset_gets_default_embedding_model(client, tenant):
    body = create_dataset(client, tenant, indexing_technique="high_quality")
    assert body["embedding_model"] == "all-MiniLM-L6-v2"
    assert body["embedding_model_provider"] == "langgenius/sentence_transformers/sentence_transformers"


def test_embedding_provider_short_name_is_normalised(client, tenant):
    body = create_dataset(
        client,
        tenant,
        indexing_technique="high_quality",
        embedding_model="all-MiniLM-L6-v2",
        embedding_model_provider="sentence_transformers",
    )
    assert body["embedding_model_provider"] == "langgenius/sentence_transformers/sentence_transformers"


def test_unknown_embedding_model_is_refused(client, tenant):
    response = client.post(
        "/v1/datasets",
        json={
            "name": "x",
            "indexing_technique": "high_quality",
            "embedding_model": "text-embedding-3-large",
            "embedding_model_provider": "openai",
        },
        headers=tenant.headers,
    )
    assert_error(response, 400, "invalid_param")
    assert response.json()["message"].startswith("No Embedding Model available.")


def test_embedding_model_without_provider_is_refused(client, tenant):
    response = client.post(
        "/v1/datasets",
        json={"name": "x", "indexing_technique": "high_quality", "embedding_model": "all-MiniLM-L6-v2"},
        headers=tenant.headers,
    )
    assert_error(response, 400, "invalid_param")


def test_unknown_rerank_model_is_refused(client, tenant):
    retrieval_model = {
        **RETRIEVAL_MODEL,
        "reranking_enable": True,
        "reranking_model": {"reranking_provider_name": "cohere", "reranking_model_name": "rerank-v3"},
    }
    response = client.post(
        "/v1/datasets", json={"name": "x", "retrieval_model": retrieval_model}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param")
    assert response.json()["message"].startswith("No Rerank Model available.")


def test_retrieval_model_is_stored_and_echoed(client, tenant):
    body = create_dataset(client, tenant, retrieval_model=RETRIEVAL_MODEL)
    echoed = body["retrieval_model_dict"]
    assert echoed["search_method"] == "hybrid_search" and echoed["top_k"] == 5
    assert echoed["weights"]["vector_setting"]["vector_weight"] == 0.7
    assert echoed["score_threshold"] == 0.4 and echoed["score_threshold_enabled"] is True


def test_invalid_retrieval_model_is_invalid_param(client, tenant):
    bad = {**RETRIEVAL_MODEL, "search_method": "telepathy"}
    response = client.post("/v1/datasets", json={"name": "x", "retrieval_model": bad}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param")
    assert "search_method" in response.json()["message"]


def test_name_length_rules(client, tenant):
    for name in ("", "x" * 41):
        response = client.post("/v1/datasets", json={"name": name}, headers=tenant.headers)
        assert_error(response, 400, "invalid_param", "Name must be between 1 to 40 characters.")
    assert client.post("/v1/datasets", json={"name": "x" * 40}, headers=tenant.headers).status_code == 200


def test_missing_name_is_invalid_param(client, tenant):
    response = client.post("/v1/datasets", json={"description": "no name"}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", "name: Field required")


def test_description_limit(client, tenant):
    response = client.post(
        "/v1/datasets", json={"name": "x", "description": "d" * 401}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param", "Description cannot exceed 400 characters.")


def test_invalid_enums_are_invalid_param(client, tenant):
    for field, value in (("indexing_technique", "fast"), ("permission", "everyone"), ("provider", "cloud")):
        response = client.post("/v1/datasets", json={"name": "x", field: value}, headers=tenant.headers)
        assert_error(response, 400, "invalid_param")


def test_duplicate_name_in_workspace_is_409(client, tenant, other_tenant):
    create_dataset(client, tenant, "Shared name")
    response = client.post("/v1/datasets", json={"name": "Shared name"}, headers=tenant.headers)
    assert_error(
        response,
        409,
        "dataset_name_duplicate",
        "The dataset name already exists. Please modify your dataset name.",
    )
    create_dataset(client, other_tenant, "Shared name")  # another workspace may use it


def test_external_provider_needs_a_registered_template(client, tenant):
    response = client.post("/v1/datasets", json={"name": "x", "provider": "external"}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", "external_knowledge_api_id is required.")
    response = client.post(
        "/v1/datasets",
        json={
            "name": "x",
            "provider": "external",
            "external_knowledge_api_id": "a",
            "external_knowledge_id": "b",
        },
        headers=tenant.headers,
    )
    assert_error(response, 400, "invalid_param", "External API template not found.")


def test_get_dataset(client, tenant):
    created = create_dataset(client, tenant)
    response = client.get(f"/v1/datasets/{created['id']}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == created


def test_get_unknown_dataset_is_404(client, tenant):
    response = client.get("/v1/datasets/00000000-0000-4000-8000-000000000000", headers=tenant.headers)
    assert_error(response, 404, "not_found", "Dataset not found.")


def test_economy_dataset_reports_keyword_search(client, tenant):
    body = create_dataset(client, tenant, indexing_technique="economy", retrieval_model=RETRIEVAL_MODEL)
    assert body["retrieval_model_dict"]["search_method"] == "keyword_search"
    assert body["embedding_model"] is None


def test_list_pagination_order_and_cap(client, tenant):
    for number in range(5):
        create_dataset(client, tenant, f"kb-{number}")
    page = client.get("/v1/datasets?page=1&limit=2", headers=tenant.headers).json()
    assert [d["name"] for d in page["data"]] == ["kb-4", "kb-3"]
    assert page["has_more"] is True and page["total"] == 5 and page["limit"] == 2 and page["page"] == 1
    last = client.get("/v1/datasets?page=3&limit=2", headers=tenant.headers).json()
    assert [d["name"] for d in last["data"]] == ["kb-0"] and last["has_more"] is False
    beyond = client.get("/v1/datasets?page=9&limit=2", headers=tenant.headers).json()
    assert beyond["data"] == [] and beyond["total"] == 5
    capped = client.get("/v1/datasets?limit=500", headers=tenant.headers).json()
    assert capped["limit"] == 100 and len(capped["data"]) == 5


def test_list_rejects_bad_paging(client, tenant):
    assert_error(client.get("/v1/datasets?page=0", headers=tenant.headers), 400, "invalid_param")
    assert_error(client.get("/v1/datasets?limit=abc", headers=tenant.headers), 400, "invalid_param")


def test_list_keyword_is_case_insensitive_and_escaped(client, tenant):
    for name in ("Sales Playbook", "sales_ops", "salesXops", "Engineering"):
        create_dataset(client, tenant, name)
    names = {
        d["name"] for d in client.get("/v1/datasets?keyword=SALES", headers=tenant.headers).json()["data"]
    }
    assert names == {"Sales Playbook", "sales_ops", "salesXops"}
    names = {d["name"] for d in client.get("/v1/datasets?keyword=s_o", headers=tenant.headers).json()["data"]}
    assert names == {"sales_ops"}  # `_` is literal, not a LIKE wildcard
    names = {d["name"] for d in client.get("/v1/datasets?keyword=%25", headers=tenant.headers).json()["data"]}
    assert names == set()


def test_list_filters_by_tags(client, tenant):
    tagged = create_dataset(client, tenant, "tagged")
    create_dataset(client, tenant, "untagged")
    tag = client.post("/v1/datasets/tags", json={"name": "hr"}, headers=tenant.headers).json()
    other = client.post("/v1/datasets/tags", json={"name": "unused"}, headers=tenant.headers).json()
    client.post(
        "/v1/datasets/tags/binding",
        json={"tag_ids": [tag["id"]], "target_id": tagged["id"]},
        headers=tenant.headers,
    )
    page = client.get(f"/v1/datasets?tag_ids={tag['id']}", headers=tenant.headers).json()
    assert [d["name"] for d in page["data"]] == ["tagged"]
    assert page["data"][0]["tags"] == [{"id": tag["id"], "name": "hr", "type": "knowledge"}]
    assert client.get(f"/v1/datasets?tag_ids={other['id']}", headers=tenant.headers).json()["data"] == []


def test_list_hides_only_me_datasets_of_other_members(client, tenant):
    create_dataset(client, tenant, "mine")
    with session_scope() as session:
        member = Account(workspace_id=tenant.workspace_id, name="colleague", role="normal")
        session.add(member)
        session.flush()
        session.add(
            Dataset(
                workspace_id=tenant.workspace_id, name="theirs", created_by=member.id, permission="only_me"
            )
        )
        session.add(
            Dataset(
                workspace_id=tenant.workspace_id,
                name="team",
                created_by=member.id,
                permission="all_team_members",
            )
        )
    names = {d["name"] for d in client.get("/v1/datasets", headers=tenant.headers).json()["data"]}
    assert names == {"mine", "team"}
    names = {
        d["name"] for d in client.get("/v1/datasets?include_all=true", headers=tenant.headers).json()["data"]
    }
    assert names == {"mine", "team", "theirs"}


def test_patch_changes_only_given_fields(client, tenant):
    created = create_dataset(client, tenant, "before", description="keep me")
    response = client.patch(f"/v1/datasets/{created['id']}", json={"name": "after"}, headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "after" and body["description"] == "keep me"
    assert body["partial_member_list"] == []
    assert set(body) == DATASET_FIELDS | {"partial_member_list"}


def test_patch_description_null_clears_it(client, tenant):
    created = create_dataset(client, tenant, description="old")
    body = client.patch(
        f"/v1/datasets/{created['id']}", json={"description": None}, headers=tenant.headers
    ).json()
    assert body["description"] is None


def test_patch_duplicate_name_is_400_not_409(client, tenant):
    create_dataset(client, tenant, "first")
    second = create_dataset(client, tenant, "second")
    response = client.patch(f"/v1/datasets/{second['id']}", json={"name": "first"}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", "Dataset name already exists")


def test_patch_partial_members(client, tenant):
    created = create_dataset(client, tenant)
    members = [
        {"user_id": "11111111-1111-4111-8111-111111111111"},
        {"user_id": "22222222-2222-4222-8222-222222222222"},
    ]
    body = client.patch(
        f"/v1/datasets/{created['id']}",
        json={"permission": "partial_members", "partial_member_list": members},
        headers=tenant.headers,
    ).json()
    assert body["permission"] == "partial_members"
    assert body["partial_member_list"] == [m["user_id"] for m in members]
    detail = client.get(f"/v1/datasets/{created['id']}", headers=tenant.headers).json()
    assert detail["partial_member_list"] == [m["user_id"] for m in members]
    body = client.patch(
        f"/v1/datasets/{created['id']}", json={"permission": "all_team_members"}, headers=tenant.headers
    ).json()
    assert body["partial_member_list"] == []
    assert (
        "partial_member_list"
        not in client.get(f"/v1/datasets/{created['id']}", headers=tenant.headers).json()
    )


def test_patch_indexing_technique_switches_embedding_model(client, tenant):
    created = create_dataset(client, tenant, indexing_technique="high_quality")
    body = client.patch(
        f"/v1/datasets/{created['id']}", json={"indexing_technique": "economy"}, headers=tenant.headers
    ).json()
    assert body["indexing_technique"] == "economy" and body["embedding_model"] is None
    body = client.patch(
        f"/v1/datasets/{created['id']}", json={"indexing_technique": "high_quality"}, headers=tenant.headers
    ).json()
    assert body["indexing_technique"] == "high_quality" and body["embedding_model"] == "all-MiniLM-L6-v2"


def test_patch_retrieval_model(client, tenant):
    created = create_dataset(client, tenant)
    body = client.patch(
        f"/v1/datasets/{created['id']}", json={"retrieval_model": RETRIEVAL_MODEL}, headers=tenant.headers
    ).json()
    assert body["retrieval_model_dict"]["search_method"] == "hybrid_search"


def test_patch_validates_like_create(client, tenant):
    created = create_dataset(client, tenant)
    response = client.patch(f"/v1/datasets/{created['id']}", json={"name": "x" * 41}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", "Name must be between 1 to 40 characters.")


def test_delete_dataset(client, tenant):
    created = create_dataset(client, tenant)
    tag = client.post("/v1/datasets/tags", json={"name": "t"}, headers=tenant.headers).json()
    client.post(
        "/v1/datasets/tags/binding",
        json={"tag_ids": [tag["id"]], "target_id": created["id"]},
        headers=tenant.headers,
    )
    response = client.delete(f"/v1/datasets/{created['id']}", headers=tenant.headers)
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"/v1/datasets/{created['id']}", headers=tenant.headers), 404, "not_found")
    tags = client.get("/v1/datasets/tags", headers=tenant.headers).json()
    assert tags[0]["binding_count"] == "0"


def _add_document(dataset_id: str, workspace_id: str, status: str, **fields) -> str:
    with session_scope() as session:
        created_by = session.scalar(select(Account.id).where(Account.workspace_id == workspace_id))
        document = Document(
            workspace_id=workspace_id,
            dataset_id=dataset_id,
            position=fields.pop("position", 1),
            data_source_type="upload_file",
            batch="20261121000000123456",
            name=fields.pop("name", "doc.txt"),
            created_by=created_by,
            indexing_status=status,
            **fields,
        )
        session.add(document)
        session.flush()
        return document.id


def test_delete_while_indexing_is_409(client, tenant):
    created = create_dataset(client, tenant)
    _add_document(created["id"], tenant.workspace_id, "indexing")
    response = client.delete(f"/v1/datasets/{created['id']}", headers=tenant.headers)
    assert_error(response, 409, "dataset_indexing_in_progress")


def test_document_counts_and_doc_form(client, tenant):
    created = create_dataset(client, tenant)
    _add_document(
        created["id"], tenant.workspace_id, "completed", position=1, word_count=100, doc_form="qa_model"
    )
    _add_document(created["id"], tenant.workspace_id, "completed", position=2, word_count=50, enabled=False)
    _add_document(
        created["id"], tenant.workspace_id, "error", position=3, word_count=0, completed_at=utcnow()
    )
    body = client.get(f"/v1/datasets/{created['id']}", headers=tenant.headers).json()
    assert body["document_count"] == 3 and body["total_documents"] == 3
    assert body["total_available_documents"] == 1 and body["word_count"] == 150
    assert body["doc_form"] == "qa_model"


def test_available_models_listing(client, tenant):
    body = client.get(
        "/v1/workspaces/current/models/model-types/text-embedding", headers=tenant.headers
    ).json()
    assert body["data"][0]["provider"] == "langgenius/sentence_transformers/sentence_transformers"
    assert body["data"][0]["models"][0]["model"] == "all-MiniLM-L6-v2"
    assert client.get("/v1/workspaces/current/models/model-types/rerank", headers=tenant.headers).json() == {
        "data": []
    }
    response = client.get("/v1/workspaces/current/models/model-types/bogus", headers=tenant.headers)
    assert_error(response, 400, "invalid_param")
