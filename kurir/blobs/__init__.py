"""Blob storage: where file bytes live. A local directory by default; the port leaves room
for an S3-compatible store. Nothing here holds a whole file in memory."""
