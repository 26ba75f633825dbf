//! When a call arrived: a tower layer stamps every request as its headers arrive, before the
//! body is read and decoded, so that client deadlines are measured from the same instant as
//! tonic's own `grpc-timeout` timer. The handlers answer DEADLINE_EXCEEDED a little before
//! that timer (which would answer CANCELLED) can fire.
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::http;
use tower::{Layer, Service};

/// The instant a request's headers arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub Instant);

/// Stamps requests with their [`Arrival`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ArrivalLayer;

impl<S> Layer<S> for ArrivalLayer {
    type Service = ArrivalService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ArrivalService { inner }
    }
}

/// The service of [`ArrivalLayer`].
#[derive(Debug, Clone)]
pub struct ArrivalService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for ArrivalService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        request.extensions_mut().insert(Arrival(Instant::now()));
        self.inner.call(request)
    }
}

/// When `request` arrived (now, if it was not stamped).
pub fn arrival_of<T>(request: &tonic::Request<T>) -> Instant {
    request
        .extensions()
        .get::<Arrival>()
        .map_or_else(Instant::now, |a| a.0)
}
