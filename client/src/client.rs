//! [`Client`]: one `tonic` channel to an augmentd server, shared by the Augmenter, Training,
//! Models and grpc.health.v1 clients, every call carrying the bearer token.
use augmentd_proto::v1::augmenter_client::AugmenterClient;
use augmentd_proto::v1::models_client::ModelsClient;
use augmentd_proto::v1::training_client::TrainingClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

pub use tonic_health::pb::health_check_response::ServingStatus;

use crate::connect::{ConnectOptions, TokenInterceptor};
use crate::error::{error_chain, ClientError};

/// The transport every generated client runs on: the channel plus the token interceptor.
pub type Transport = InterceptedService<Channel, TokenInterceptor>;

/// A connection to an augmentd server. Cheap to clone; calls may run concurrently.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) augmenter: AugmenterClient<Transport>,
    pub(crate) training: TrainingClient<Transport>,
    pub(crate) models: ModelsClient<Transport>,
    pub(crate) health: HealthClient<Transport>,
}

impl Client {
    /// Connects to `options.url` (`http://127.0.0.1:50051`, `https://augment.example:443`)
    /// now, so that an unreachable server fails here rather than at the first call.
    pub async fn connect(options: ConnectOptions) -> Result<Client, ClientError> {
        let interceptor = TokenInterceptor::new(options.token.as_deref())?;
        let endpoint = options.endpoint()?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ClientError::Transport {
                url: options.url.trim().to_string(),
                message: error_chain(&e),
            })?;
        Ok(Client::with_channel(channel, interceptor))
    }

    /// A client over an existing channel (for example one made with
    /// `Endpoint::connect_lazy`), sending `interceptor`'s token.
    pub fn with_channel(channel: Channel, interceptor: TokenInterceptor) -> Client {
        // Batches can be large (a 128-image float32 batch of 224x224 RGB is 77 MB): the
        // server bounds what it accepts, the client takes what it is sent.
        let limit = usize::MAX;
        Client {
            augmenter: AugmenterClient::with_interceptor(channel.clone(), interceptor.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
            training: TrainingClient::with_interceptor(channel.clone(), interceptor.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
            models: ModelsClient::with_interceptor(channel.clone(), interceptor.clone())
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
            health: HealthClient::with_interceptor(channel, interceptor),
        }
    }

    /// The serving status grpc.health.v1 reports for `service` (`""`: the server as a whole;
    /// `augmentd.v1.Augmenter`, ...). An unknown service is `NOT_FOUND`.
    pub async fn health(&self, service: &str) -> Result<ServingStatus, ClientError> {
        let response = self
            .health
            .clone()
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await?
            .into_inner();
        Ok(ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown))
    }

    /// The generated Augmenter client, for calls this crate does not wrap.
    pub fn augmenter_client(&self) -> AugmenterClient<Transport> {
        self.augmenter.clone()
    }

    /// The generated Training client.
    pub fn training_client(&self) -> TrainingClient<Transport> {
        self.training.clone()
    }

    /// The generated Models client.
    pub fn models_client(&self) -> ModelsClient<Transport> {
        self.models.clone()
    }
}
