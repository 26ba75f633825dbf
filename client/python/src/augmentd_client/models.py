"""`ModelsClient`: the published versions of named augmenters (list, get, activate, delete).
Needs an `admin` token when the server has tokens. Model references are `name@version`,
`name` (its active version, or for activate its latest) or "" (the server's default model).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from ._proto import models_pb2

if TYPE_CHECKING:
    from .connection import Connection


class ModelsClient:
    """The Models service of one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def list(self, name: str | None = None) -> builtins.list[models_pb2.ModelVersion]:
        """Every version (or those of `name`), by name then version."""
        response = self.connection.call(
            "augmentd.v1.Models/ListModels",
            self.connection.models.ListModels,
            models_pb2.ListModelsRequest(name=name or ""),
        )
        return list(response.models)

    def get(self, model: str = "") -> models_pb2.ModelVersion:
        """One version: `name@version`, `name` (its active version) or "" (the default model);
        `NotFoundError` when there is no such model."""
        version: models_pb2.ModelVersion = self.connection.call(
            "augmentd.v1.Models/GetModel", self.connection.models.GetModel, models_pb2.GetModelRequest(model=model)
        )
        return version

    def activate(self, model: str) -> models_pb2.ModelVersion:
        """Makes `name@version` (or `name`'s latest version) the one its name serves, and that
        name the default model; requests already admitted finish on the old version."""
        version: models_pb2.ModelVersion = self.connection.call(
            "augmentd.v1.Models/ActivateModel",
            self.connection.models.ActivateModel,
            models_pb2.ActivateModelRequest(model=model),
        )
        return version

    def delete(self, model: str, force: bool = False) -> builtins.list[models_pb2.ModelVersion]:
        """Removes `name@version` (or every version of `name`) and returns what was removed;
        an active version needs `force` (else `FailedPreconditionError`). Not retried."""
        response = self.connection.call(
            "augmentd.v1.Models/DeleteModel",
            self.connection.models.DeleteModel,
            models_pb2.DeleteModelRequest(model=model, force=force),
            retry=False,
        )
        return list(response.deleted)
