"""grpc.health.v1 Check. augmentd serves the standard health service (no token needed); its
two messages are built here from a descriptor in a private pool, so the client needs neither
grpcio-health-checking nor stubs of a proto that is not part of augmentd's API.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

if TYPE_CHECKING:
    from .connection import Connection

CHECK_METHOD = "grpc.health.v1.Health/Check"
#: ServingStatus names by wire value.
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


@functools.lru_cache(maxsize=1)
def health_messages() -> tuple[Any, Any]:
    """(HealthCheckRequest, HealthCheckResponse) message classes."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="grpc/health/v1/health.proto", package="grpc.health.v1", syntax="proto3"
    )
    request = file.message_type.add(name="HealthCheckRequest")
    request.field.add(name="service", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    response = file.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in SERVING_STATUS.items():
        status.value.add(name=name, number=number)
    response.field.add(
        name="status",
        number=1,
        type=field.TYPE_ENUM,
        label=field.LABEL_OPTIONAL,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


def check_health(connection: Connection, service: str = "") -> str:
    """The serving status of `service` ("" for the whole server) as a name: `SERVING` or
    `NOT_SERVING` (`UNKNOWN`, `SERVICE_UNKNOWN` are the protocol's other values). A service the
    server does not have is `NotFoundError`, as the health protocol says. Retried like every
    idempotent call."""
    request_class, response_class = health_messages()
    check = connection.channel.unary_unary(
        "/" + CHECK_METHOD,
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    response = connection.call(CHECK_METHOD, check, request_class(service=service))
    return SERVING_STATUS.get(response.status, "UNKNOWN")
