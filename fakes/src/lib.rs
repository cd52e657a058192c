//! Stand-ins for the services Rekomi talks to, for tests, benchmarks and the demo. A crate of its own
//! so the production `server` binary contains none of it: the server's tests and benches take it as a
//! dev-dependency, and `scripts/run.sh` and `scripts/test.sh` run its binaries beside the server.

pub mod klaviyo;
pub mod shopify;
