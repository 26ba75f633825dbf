//! Published augmenter versions: list, inspect, activate and delete them.
use augmentd_proto::v1 as pb;

use crate::client::Client;
use crate::error::ClientError;

/// `name@version` of a model version.
pub fn model_ref(model: &pb::ModelVersion) -> String {
    format!("{}@{}", model.name, model.version)
}

impl Client {
    /// Every version (or every version of `name`), by name then version.
    pub async fn list_models(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<pb::ModelVersion>, ClientError> {
        let request = pb::ListModelsRequest {
            name: name.unwrap_or_default().to_string(),
        };
        Ok(self
            .models
            .clone()
            .list_models(request)
            .await?
            .into_inner()
            .models)
    }

    /// One version: `name@version`, `name` (its active version) or `""` (the default model).
    pub async fn get_model(&self, model: &str) -> Result<pb::ModelVersion, ClientError> {
        let request = pb::GetModelRequest {
            model: model.to_string(),
        };
        Ok(self.models.clone().get_model(request).await?.into_inner())
    }

    /// Makes `name@version` (or `name`'s latest version) the one its name resolves to, and
    /// that name the server's default; returns the activated version.
    pub async fn activate_model(&self, model: &str) -> Result<pb::ModelVersion, ClientError> {
        let request = pb::ActivateModelRequest {
            model: model.to_string(),
        };
        Ok(self
            .models
            .clone()
            .activate_model(request)
            .await?
            .into_inner())
    }

    /// Deletes `name@version`, or every version of `name`; an active version only with
    /// `force` (else FAILED_PRECONDITION). Returns the deleted versions.
    pub async fn delete_model(
        &self,
        model: &str,
        force: bool,
    ) -> Result<Vec<pb::ModelVersion>, ClientError> {
        let request = pb::DeleteModelRequest {
            model: model.to_string(),
            force,
        };
        Ok(self
            .models
            .clone()
            .delete_model(request)
            .await?
            .into_inner()
            .deleted)
    }
}
