# Image for the api and worker services of docker-compose.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 KB_DATA_DIR=/data
WORKDIR /app

# The CPU build of torch must be installed before sentence-transformers, or pip resolves the CUDA build.
# Point TORCH_INDEX_URL at an index that serves CPU wheels (or a local wheel directory).
ARG TORCH_INDEX_URL=""
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0

COPY pyproject.toml README.md kb.py ./
COPY core ./core
COPY api ./api
COPY worker ./worker
COPY etl ./etl
COPY retrieval ./retrieval
RUN pip install --no-cache-dir ".[embeddings,otel]"

EXPOSE 5001
CMD ["kb", "serve", "--host", "0.0.0.0", "--port", "5001"]
