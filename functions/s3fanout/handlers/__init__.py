"""Lambda entry points (template.yaml Handler: s3fanout.handlers.<module>.lambda_handler)."""
