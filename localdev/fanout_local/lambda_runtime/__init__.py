"""The local Lambda runtime: template.yaml's handlers behind the Lambda Invoke API, no Docker.

Parent side (the engine's process): ``pool`` (``LambdaRuntime``, a pool of execution
environments per function), ``invoke_api`` (the HTTP server speaking the Invoke API),
``parent`` (handles on the child processes: the root, each function's template, each
environment), ``function_env`` (the one builder of the functions' environment).
Child side (forked processes): ``child`` (``python -m fanout_local.lambda_runtime.child``).
Nothing is imported here: a child starts without the parent side's modules.
"""
