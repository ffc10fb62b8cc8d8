//! An nginx a test starts for itself, from a config it writes: a server
//! nobody here wrote, limiting requests as real deployments do.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx on a free 127.0.0.1 port, serving `GET /ok` under `limit_req`,
/// stopped (and its directory removed) when dropped.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:PORT/ok`.
    pub url: String,
}

impl Nginx {
    /// Starts one that accepts `rate` requests per second (a burst of
    /// `burst` more, at once) and answers the rest 429 with no header but
    /// `extra` (for example `add_header Retry-After 1 always;`). `None`,
    /// loudly, when nginx is not installed (a panic when
    /// `STEADFAST_REQUIRE_NGINX` is set, as `.ci/run` sets it).
    pub fn start(rate: u32, burst: u32, extra: &str) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let dir =
            std::env::temp_dir().join(format!("steadfast-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("html")).ok()?;
        std::fs::write(dir.join("html/ok"), "ok").ok()?;
        let conf = format!(
            "worker_processes 1;\n\
             master_process off;\n\
             daemon off;\n\
             pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               access_log off;\n\
               client_body_temp_path {dir}/body;\n\
               proxy_temp_path {dir}/proxy;\n\
               fastcgi_temp_path {dir}/fastcgi;\n\
               uwsgi_temp_path {dir}/uwsgi;\n\
               scgi_temp_path {dir}/scgi;\n\
               limit_req_zone $server_port zone=api:1m rate={rate}r/s;\n\
               server {{\n\
                 listen 127.0.0.1:{port};\n\
                 root {dir}/html;\n\
                 location / {{\n\
                   limit_req zone=api burst={burst} nodelay;\n\
                   limit_req_status 429;\n\
                   {extra}\n\
                 }}\n\
               }}\n\
             }}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).ok()?;
        // Debian puts it in /usr/sbin, which a user's PATH may leave out.
        let spawned = ["nginx", "/usr/sbin/nginx"]
            .iter()
            .find_map(|bin| {
                Command::new(bin)
                    .arg("-p")
                    .arg(&dir)
                    .arg("-e")
                    .arg(dir.join("error.log"))
                    .arg("-c")
                    .arg(dir.join("nginx.conf"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()
            })
            .ok_or(());
        let child = match spawned {
            Ok(child) => child,
            Err(_) => {
                assert!(
                    std::env::var_os("STEADFAST_REQUIRE_NGINX").is_none(),
                    "nginx is not installed, and STEADFAST_REQUIRE_NGINX is set"
                );
                eprintln!(
                    "nginx is not installed: this test needs it (apt-get install nginx-light)"
                );
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
        };
        let server = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}/ok"),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
