#!/bin/sh
# One-shot MinIO set-up for hsba's archive (run by docker/compose.yaml's minio-init):
# bucket with Object Lock (versioned), default COMPLIANCE retention, writer identity.
set -eu
mc alias set archive http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing --with-lock "archive/$BUCKET"
mc retention set --default COMPLIANCE "$DEFAULT_RETENTION" "archive/$BUCKET"
sed "s/@BUCKET@/$BUCKET/g" /init/minio-writer-policy.json >/tmp/hsba-writer-policy.json
mc admin policy create archive hsba-writer /tmp/hsba-writer-policy.json
mc admin user add archive "$WRITER_ACCESS_KEY" "$WRITER_SECRET_KEY"
mc admin policy attach archive hsba-writer --user "$WRITER_ACCESS_KEY" 2>/dev/null || true
mc retention info --default "archive/$BUCKET"
