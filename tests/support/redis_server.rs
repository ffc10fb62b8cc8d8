//! A `redis-server` a test starts for itself. A file of its own so that the
//! crate's unit tests (the fleet script's, in `src/driver/redis/`) include
//! it too.
#![allow(dead_code)]

/// A `redis-server` of the test's own on a free 127.0.0.1 port, without
/// persistence, stopped when dropped.
pub struct RedisServer {
    child: std::process::Child,
    /// The port it listens on.
    pub port: u16,
    /// Its arguments besides the port's and persistence's.
    args: Vec<String>,
    password: Option<String>,
    /// `redis://[:PASSWORD@]127.0.0.1:PORT/`.
    pub url: String,
}

impl RedisServer {
    /// Starts one and waits (up to 5 s) until it answers; `None`, with a
    /// line on stderr, when `redis-server` is not installed (a panic when
    /// `STEADFAST_REQUIRE_REDIS` is set, as `.ci/run` sets it). A port
    /// another test took between being found free and being bound is given
    /// up for another, so that no two tests share a server.
    pub fn start() -> Option<Self> {
        Self::start_with(None, |_| Vec::new())
    }

    /// One that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> Option<Self> {
        Self::start_with(Some(password), |_| Vec::new())
    }

    /// One requiring `password`, if any, with the further arguments
    /// `args(port)`.
    pub fn start_with(password: Option<&str>, args: impl Fn(u16) -> Vec<String>) -> Option<Self> {
        let mut tries = 0;
        while tries < 5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .ok()?;
            let mut args = args(port);
            // A cluster node also listens 10,000 ports up.
            let bus_free = || {
                port.checked_add(10_000)
                    .is_some_and(|bus| std::net::TcpListener::bind(("127.0.0.1", bus)).is_ok())
            };
            if args.iter().any(|a| a == "--cluster-enabled") && !bus_free() {
                continue;
            }
            tries += 1;
            if let Some(password) = password {
                args.extend(
                    ["--requirepass", password, "--masterauth", password].map(String::from),
                );
            }
            let Ok(child) = Self::spawn(port, &args) else {
                // CI installs it and says so: there, a missing server fails.
                assert!(
                    std::env::var_os("STEADFAST_REQUIRE_REDIS").is_none(),
                    "redis-server is not installed, and STEADFAST_REQUIRE_REDIS is set"
                );
                eprintln!(
                    "redis-server is not installed: this test needs it (apt-get install redis-server)"
                );
                return None;
            };
            let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
            let mut server = Self {
                child,
                port,
                args,
                password: password.map(String::from),
                url: format!("redis://{auth}127.0.0.1:{port}/"),
            };
            if server.wait_ready() {
                return Some(server);
            }
            server.kill();
        }
        panic!("redis-server did not start on any of five free ports");
    }

    fn spawn(port: u16, args: &[String]) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
    }

    /// Whether this server, and not another on its port, answers within
    /// 5 s: its `INFO` names the child's process id.
    fn wait_ready(&mut self) -> bool {
        use std::io::{Read, Write};
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let pid = format!("process_id:{}\r\n", self.child.id());
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // it could not bind the port
            }
            if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                let auth = self
                    .password
                    .as_ref()
                    .map(|p| format!("AUTH {p}\r\n"))
                    .unwrap_or_default();
                if c.write_all(format!("{auth}INFO server\r\n").as_bytes())
                    .is_err()
                {
                    return false;
                }
                // The answer may come in pieces: read until it names this
                // child, or ends (another server's answers until the read
                // times out).
                let (mut info, mut chunk) = (Vec::new(), [0; 4096]);
                loop {
                    if String::from_utf8_lossy(&info).contains(&pid) {
                        return true;
                    }
                    match c.read(&mut chunk) {
                        Ok(n) if n > 0 && info.len() < 65_536 => {
                            info.extend_from_slice(&chunk[..n]);
                        }
                        _ => return false,
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Starts it again on the same port after [`kill`](Self::kill), empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port, &self.args).expect("redis-server ran before");
        assert!(self.wait_ready(), "redis-server did not start again");
    }

    /// Stops it now (a crash, as far as its clients can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of the test's own: six `redis-server`s in cluster mode
/// on free 127.0.0.1 ports, three primaries each with a replica, made one
/// cluster by `redis-cli --cluster create`; every server is stopped and
/// their cluster files removed when it is dropped, also when the test
/// fails.
pub struct RedisCluster {
    /// The servers, in the order given to `redis-cli --cluster create`.
    pub nodes: Vec<RedisServer>,
    dir: std::path::PathBuf,
    password: Option<String>,
}

impl RedisCluster {
    /// Starts one, requiring `password` if any, and waits until every node
    /// reports `cluster_state:ok` (`None` as for [`RedisServer::start`]).
    pub fn start(password: Option<&str>) -> Option<Self> {
        static CLUSTERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = CLUSTERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("steadfast-cluster-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
            password: password.map(String::from),
        };
        for _ in 0..6 {
            let dir = cluster.dir.display().to_string();
            let node = RedisServer::start_with(password, |port| {
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "1000",
                    // A replica that never synced cannot take over: sync at once.
                    "--repl-diskless-sync-delay",
                    "0",
                    "--dir",
                    &dir,
                ]
                .map(String::from)
                .to_vec()
            })?;
            cluster.nodes.push(node);
        }
        let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(
            cluster
                .nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port)),
        );
        create.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
        let port = cluster.nodes[0].port;
        let out = cluster.cli(port, &create);
        assert!(out.contains("All 16384 slots covered"), "{out}");
        let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
        cluster.wait_ok(&ports, std::time::Duration::from_secs(20));
        cluster.wait_synced(std::time::Duration::from_secs(20));
        Some(cluster)
    }

    /// `redis+cluster://[:PASSWORD@]127.0.0.1:P1,...,127.0.0.1:P6/`.
    pub fn url(&self) -> String {
        let auth = self
            .password
            .as_ref()
            .map(|p| format!(":{p}@"))
            .unwrap_or_default();
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{auth}{}/", nodes.join(","))
    }

    /// What `redis-cli -p PORT ARGS` prints.
    pub fn cli(&self, port: u16, args: &[String]) -> String {
        let mut cli = std::process::Command::new("redis-cli");
        cli.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(password) = &self.password {
            cli.args(["-a", password, "--no-auth-warning"]);
        }
        let out = cli.args(args).output().expect("redis-cli runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        text
    }

    /// Waits until every node of `ports` reports `cluster_state:ok`
    /// (panics after `within`).
    pub fn wait_ok(&self, ports: &[u16], within: std::time::Duration) {
        let until = std::time::Instant::now() + within;
        loop {
            let ok = ports.iter().all(|&port| {
                self.cli(port, &["cluster".into(), "info".into()])
                    .contains("cluster_state:ok")
            });
            if ok {
                return;
            }
            assert!(
                std::time::Instant::now() < until,
                "the cluster was not ok within {within:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until every replica has synced with its primary (panics after
    /// `within`).
    fn wait_synced(&self, within: std::time::Duration) {
        let until = std::time::Instant::now() + within;
        for node in &self.nodes {
            loop {
                let info = self.cli(node.port, &["info".into(), "replication".into()]);
                if info.contains("role:master") || info.contains("master_link_status:up") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < until,
                    "a replica had not synced within {within:?}"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }

    /// The index in [`nodes`](Self::nodes) of the primary serving the slot
    /// of `key` that the node at `ask` believes alive, if any.
    pub fn primary_for(&self, ask: usize, key: &str) -> Option<usize> {
        let port = self.nodes[ask].port;
        let slot: u16 = self
            .cli(port, &["cluster".into(), "keyslot".into(), key.into()])
            .trim()
            .parse()
            .expect("a slot");
        let nodes = self.cli(port, &["cluster".into(), "nodes".into()]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if lo <= slot && slot <= hi)
            });
            let node_port = fields[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse::<u16>().ok());
            if let (true, Some(node_port)) = (serves, node_port) {
                return self.nodes.iter().position(|n| n.port == node_port);
            }
        }
        None
    }

    /// The cluster id of the node at `index`.
    fn id(&self, index: usize) -> String {
        let port = self.nodes[index].port;
        self.cli(port, &["cluster".into(), "myid".into()])
            .trim()
            .to_owned()
    }

    /// Moves the slot of `key`, with its keys, from the primary serving it
    /// to another primary, as `redis-cli --cluster reshard` would (the
    /// cluster specification's IMPORTING, MIGRATING, MIGRATE, NODE).
    pub fn move_slot(&self, key: &str) {
        let s = |v: &str| v.to_owned();
        let port = |i: usize| self.nodes[i].port;
        let from = self.primary_for(0, key).expect("a primary serves the key");
        let slot = self
            .cli(port(0), &[s("cluster"), s("keyslot"), s(key)])
            .trim()
            .to_owned();
        let nodes = self.cli(port(from), &[s("cluster"), s("nodes")]);
        let to = self
            .nodes
            .iter()
            .position(|n| {
                n.port != port(from)
                    && nodes.lines().any(|l| {
                        l.contains(&format!(":{}@", n.port))
                            && l.contains("master")
                            && !l.contains("fail")
                    })
            })
            .expect("another primary");
        let (from_id, to_id) = (self.id(from), self.id(to));
        let said = self.cli(
            port(to),
            &[
                s("cluster"),
                s("setslot"),
                slot.clone(),
                s("importing"),
                from_id,
            ],
        );
        assert!(said.contains("OK"), "{said}");
        let said = self.cli(
            port(from),
            &[
                s("cluster"),
                s("setslot"),
                slot.clone(),
                s("migrating"),
                to_id.clone(),
            ],
        );
        assert!(said.contains("OK"), "{said}");
        loop {
            let keys = self.cli(
                port(from),
                &[s("cluster"), s("getkeysinslot"), slot.clone(), s("100")],
            );
            let keys: Vec<String> = keys
                .lines()
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect();
            if keys.is_empty() {
                break;
            }
            let mut migrate = vec![
                s("migrate"),
                s("127.0.0.1"),
                port(to).to_string(),
                s(""),
                s("0"),
                s("5000"),
            ];
            if let Some(password) = &self.password {
                migrate.extend([s("AUTH"), password.clone()]);
            }
            migrate.push(s("KEYS"));
            migrate.extend(keys);
            let said = self.cli(port(from), &migrate);
            assert!(said.contains("OK") || said.contains("NOKEY"), "{said}");
        }
        for i in [to, from] {
            let said = self.cli(
                port(i),
                &[
                    s("cluster"),
                    s("setslot"),
                    slot.clone(),
                    s("node"),
                    to_id.clone(),
                ],
            );
            assert!(said.contains("OK"), "{said}");
        }
    }

    /// Kills the primary serving `key`'s slot and waits (up to `within`)
    /// until its replica has taken over and the cluster is ok again;
    /// returns the dead node's index.
    pub fn fail_over(&mut self, key: &str, within: std::time::Duration) -> usize {
        let dead = self.primary_for(0, key).expect("a primary serves the key");
        self.nodes[dead].kill();
        let ask = usize::from(dead == 0);
        let until = std::time::Instant::now() + within;
        while !matches!(self.primary_for(ask, key), Some(p) if p != dead) {
            assert!(
                std::time::Instant::now() < until,
                "no replica took over within {within:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let survivors: Vec<u16> = (0..self.nodes.len())
            .filter(|&i| i != dead)
            .map(|i| self.nodes[i].port)
            .collect();
        self.wait_ok(&survivors, within);
        dead
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
