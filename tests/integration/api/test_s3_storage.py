"""STORAGE_TYPE=s3 against a real S3 API (moto's server): a multipart-sized upload goes to the bucket
and nowhere on local disk, is indexed from there, downloads back byte for byte as a stream, is stored
once however many documents share it, and leaves the bucket empty when its documents are deleted."""

from urllib.parse import urlsplit

import pytest

from core.settings import get_settings
from tests.conftest import S3_BUCKET, _s3_client
from tests.helpers import create_dataset, upload_document, wait_for_batch

# Long chunks: the test is about the file, not about indexing 20,000 small chunks.
ECONOMY = {"indexing_technique": "economy", "process_rule": {"mode": "custom", "rules": {
    "pre_processing_rules": [], "segmentation": {"separator": "\n\n", "max_tokens": 4000}}}}  # fmt: skip


def _objects(endpoint: str) -> dict[str, int]:
    listed = _s3_client(endpoint).list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listed}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_files_live_in_the_bucket_from_upload_to_delete(client, tenant, celery_worker, s3_endpoint):
    assert get_settings().storage_type == "s3"
    dataset = create_dataset(client, tenant)
    lines = "".join(f"Line {n}: the axolotl regrows limb number {n}.\n" for n in range(200_000))
    content = lines.encode()
    assert len(content) > 9 * 1024 * 1024  # above boto3's multipart threshold
    first = upload_document(client, tenant, dataset["id"], "axolotl.txt", content, ECONOMY).json()
    assert {
        status["indexing_status"] for status in wait_for_batch(client, tenant, dataset["id"], first["batch"])
    } == {"completed"}
    stored = _objects(s3_endpoint)
    assert list(stored.values()) == [len(content)]
    assert not [p for p in get_settings().upload_dir.rglob("*") if p.is_file()]  # nothing on local disk

    records = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", headers=tenant.headers,
                          json={"query": "limb number 123456"}).json()["records"]  # fmt: skip
    assert "Line 123456:" in records[0]["segment"]["content"]  # indexed from the bucket's copy

    base = f"/v1/datasets/{dataset['id']}/documents"
    url = client.get(f"{base}/{first['document']['id']}/download", headers=tenant.headers).json()["url"]
    link = urlsplit(url)
    fetched = client.get(f"{link.path}?{link.query}")
    assert fetched.status_code == 200 and fetched.content == content
    assert fetched.headers["content-length"] == str(len(content))
    assert fetched.headers["content-disposition"] == 'attachment; filename="axolotl.txt"'

    twin = upload_document(client, tenant, dataset["id"], "twin.txt", content, ECONOMY).json()
    wait_for_batch(client, tenant, dataset["id"], twin["batch"])
    assert _objects(s3_endpoint) == stored  # the same bytes are stored once
    for made in (first, twin):
        deleted = client.delete(f"{base}/{made['document']['id']}", headers=tenant.headers)
        assert deleted.status_code == 204
    assert _objects(s3_endpoint) == {}
