//! Resolves the caller's address once per request, for rate limits: the socket peer, or, behind a
//! trusted reverse proxy, the address that proxy appended to `X-Forwarded-For`.

use crate::services::accounts::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

pub async fn resolve(State(trust_proxy): State<bool>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(&req, trust_proxy);
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

fn client_ip(req: &Request, trust_proxy: bool) -> IpAddr {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    from_parts(peer, req.headers(), trust_proxy)
}

/// The caller's address from the socket peer and the headers (for routes outside the middleware).
pub fn from_parts(peer: Option<SocketAddr>, headers: &axum::http::HeaderMap, trust_proxy: bool) -> IpAddr {
    let peer = peer.map(|p| p.ip());
    // The right-most entry is the one our own proxy added; entries left of it are client-supplied.
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    let ip = if trust_proxy { forwarded.or(peer) } else { peer };
    ip.unwrap_or(IpAddr::from([0, 0, 0, 0]))
}
