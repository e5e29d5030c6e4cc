"""A LocalStack provider that serves DynamoDB from moto's implementation.

LocalStack's own DynamoDB provider runs DynamoDB Local, a Java server under
AWS's own licence terms that LocalStack downloads at first use. Bora's
emulator script selects this provider instead (PROVIDER_OVERRIDE_DYNAMODB=moto):
every DynamoDB operation is answered by moto, which LocalStack already
ships, in the same process. See docs/aws.md for what that changes.
"""

import threading
from binascii import crc32

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

# LocalStack serves requests on many threads, and moto's DynamoDB checks a
# write's condition and then applies it without a lock: two conditional
# updates of one item can both pass. DynamoDB applies each conditional write
# atomically, so every operation runs alone.
_one_at_a_time = threading.Lock()


def _call_moto(context, _request):
    from localstack.services.moto import call_moto

    with _one_at_a_time:
        return call_moto(context)


def _set_crc32(_chain, _context, response):
    # DynamoDB sends the CRC32 of every response body in this header; the
    # Go SDK checks it and logs a warning for each response without it.
    response.headers["x-amz-crc32"] = str(crc32(response.data) & 0xFFFFFFFF)


class MotoDynamoDB(DynamodbApi, ServiceLifecycleHook):
    """Implements no operation itself: each one falls through to moto."""

    def on_after_init(self):
        from localstack.aws import handlers

        handlers.modify_service_response.append("dynamodb", _set_crc32)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.aws.forwarder import ForwardingFallbackDispatcher

    return Service.for_provider(
        MotoDynamoDB(), dispatch_table_factory=lambda p: ForwardingFallbackDispatcher(p, _call_moto)
    )
