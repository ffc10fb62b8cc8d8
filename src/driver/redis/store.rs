//! Where a fleet's state lives: one Redis server, or a Redis Cluster whose
//! routing (slots, `MOVED` and `ASK`, a replica promoted after a failover)
//! is the `redis` crate's cluster client's, not ours.
//!
//! A cluster is named by one URL, `redis+cluster://[user:password@]host:port,host:port,...[/]`:
//! the nodes a client asks first for the cluster's layout (any that answer
//! will do), sharing the URL's credentials and anything after the hosts.

use core::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, RedisResult, ScriptInvocation};

use super::renewal::Answer;

const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A client for the fleet's Redis, standalone or cluster.
pub(super) enum Store {
    Node(redis::Client),
    Cluster(Box<ClusterClient>),
}

/// An async connection to a [`Store`].
pub(super) enum Connection {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// A blocking connection to a [`Store`].
#[cfg(feature = "blocking")]
pub(super) type BlockingConnection = Box<dyn redis::ConnectionLike + Send>;

impl Store {
    /// A client for `url`, each of its waits bounded by `timeout`; fails
    /// only on a malformed URL (nothing is connected yet).
    pub(super) fn open(url: &str, timeout: Duration) -> RedisResult<Self> {
        // The client's errors may quote the URL's query values.
        let malformed = |e: RedisError| {
            RedisError::from((
                e.kind(),
                "malformed Redis URL (not quoted here: it may hold a password)",
            ))
        };
        let Some(nodes) = cluster_nodes(url) else {
            return redis::Client::open(url).map(Self::Node).map_err(malformed);
        };
        ClusterClient::builder(nodes?)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            // The client's own retries wait 1.28 s and more by default:
            // a renewal that cannot be made within the round-trip timeout
            // is better left for a second, on the process's own limits.
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()
            .map(|client| Self::Cluster(Box::new(client)))
            .map_err(malformed)
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A new async connection, made within `timeout`.
    pub(super) async fn connect(&self, timeout: Duration) -> RedisResult<Connection> {
        match self {
            Self::Node(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_response_timeout(Some(timeout))
                    .set_connection_timeout(Some(timeout));
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map(Connection::Node)
            }
            Self::Cluster(client) => client
                .get_async_connection_with_config(cluster_config(timeout))
                .await
                .map(Connection::Cluster),
        }
    }

    /// A new blocking connection whose every read and write is bounded by
    /// `timeout`.
    #[cfg(feature = "blocking")]
    pub(super) fn connect_blocking(&self, timeout: Duration) -> RedisResult<BlockingConnection> {
        match self {
            Self::Node(client) => {
                let c = client.get_connection_with_timeout(timeout)?;
                c.set_read_timeout(Some(timeout))?;
                c.set_write_timeout(Some(timeout))?;
                Ok(Box::new(c))
            }
            Self::Cluster(client) => {
                let c = client.get_connection_with_config(cluster_config(timeout))?;
                c.set_read_timeout(Some(timeout))?;
                c.set_write_timeout(Some(timeout))?;
                Ok(Box::new(c))
            }
        }
    }
}

impl Connection {
    /// Runs the renewal script (loading it first where the node has lost
    /// it, as after `SCRIPT FLUSH` or on a promoted replica).
    pub(super) async fn invoke(&mut self, call: &ScriptInvocation<'_>) -> RedisResult<Answer> {
        match self {
            Self::Node(c) => call.invoke_async(c).await,
            Self::Cluster(c) => call.invoke_async(c).await,
        }
    }
}

fn cluster_config(timeout: Duration) -> ClusterConfig {
    ClusterConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout)
}

/// The node URLs a `redis+cluster://` URL names; `None` for any other URL.
fn cluster_nodes(url: &str) -> Option<RedisResult<Vec<String>>> {
    let rest = url
        .get(..CLUSTER_SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(CLUSTER_SCHEME))
        .map(|_| &url[CLUSTER_SCHEME.len()..])?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let database = tail
        .strip_prefix('/')
        .map_or("", |path| path.split(['?', '#']).next().unwrap_or(""));
    if !matches!(database, "" | "0") {
        return Some(Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "a Redis Cluster has database 0 only",
        ))));
    }
    let nodes: Vec<String> = hosts
        .split(',')
        .filter(|host| !host.is_empty())
        .map(|host| match userinfo {
            Some(userinfo) => format!("redis://{userinfo}@{host}{tail}"),
            None => format!("redis://{host}{tail}"),
        })
        .collect();
    Some(if nodes.is_empty() {
        Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "a redis+cluster:// URL names no node",
        )))
    } else {
        Ok(nodes)
    })
}

#[cfg(test)]
mod tests {
    use super::{cluster_nodes, Store};
    use core::time::Duration;

    #[test]
    fn a_cluster_url_names_its_nodes_with_the_urls_credentials() {
        let table: &[(&str, Option<&[&str]>)] = &[
            ("redis://127.0.0.1:6379/", None),
            ("rediss://h:1/", None),
            (
                "redis+cluster://127.0.0.1:7000,127.0.0.1:7001/",
                Some(&["redis://127.0.0.1:7000/", "redis://127.0.0.1:7001/"]),
            ),
            (
                "REDIS+CLUSTER://u:p%40ss@a:1,b:2",
                Some(&["redis://u:p%40ss@a:1", "redis://u:p%40ss@b:2"]),
            ),
            (
                "redis+cluster://:pw@a:1/?protocol=resp3",
                Some(&["redis://:pw@a:1/?protocol=resp3"]),
            ),
            (
                "redis+cluster://a:1,,b:2",
                Some(&["redis://a:1", "redis://b:2"]),
            ),
        ];
        for &(url, want) in table {
            let got = cluster_nodes(url).map(Result::unwrap);
            let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            assert_eq!(got, want, "{url}");
        }
    }

    #[test]
    fn bad_cluster_urls_are_errors_that_do_not_repeat_them() {
        let second = Duration::from_secs(1);
        for url in [
            "redis://u:s3cret@h:1/?protocol=s3cret",
            "redis+cluster://",
            "redis+cluster://s3cret@/",
            "redis+cluster://u:s3cret@a:1,b:notaport/",
            "redis+cluster://u:s3cret@a:1/7",
            "redis+cluster://u:s3cret@a:1?protocol=s3cret",
        ] {
            let Err(e) = Store::open(url, second) else {
                panic!("{url} accepted");
            };
            let text = format!("{e} {e:?}");
            assert!(!text.contains("s3cret"), "{url}: {text}");
        }
        for url in ["redis+cluster://a:1", "redis+cluster://u:pw@a:1,b:2/0"] {
            assert!(Store::open(url, second).unwrap().is_cluster(), "{url}");
        }
        assert!(!Store::open("redis://a:1/", second).unwrap().is_cluster());
    }
}
