//! An https server on 127.0.0.1 with a certificate from a CA made for the
//! test, and name resolution that maps test names to fixed addresses: how
//! the guarded fetcher is tested without a packet leaving the machine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyhouse_axum::agents::fetch::Lookup;

/// Name resolution for tests: names map to fixed addresses, and every
/// lookup is counted.
#[derive(Default)]
pub struct TestLookup {
    pub names: std::sync::Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    pub lookups: AtomicUsize,
}

impl TestLookup {
    pub fn with(entries: &[(&str, &[&str])]) -> Arc<TestLookup> {
        let l = TestLookup::default();
        for (name, answers) in entries {
            let answers = answers.iter().map(|a| vec![a.parse().unwrap()]).collect();
            l.names.lock().unwrap().insert((*name).to_owned(), answers);
        }
        Arc::new(l)
    }
}

impl Lookup for TestLookup {
    fn lookup(
        &self,
        host: String,
    ) -> futures::future::BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        // Each lookup takes the next answer; the last one repeats.
        let answer = {
            let mut names = self.names.lock().unwrap();
            match names.get_mut(&host) {
                Some(list) if list.len() > 1 => Ok(list.remove(0)),
                Some(list) => Ok(list[0].clone()),
                None => Err(std::io::Error::other("no such test name")),
            }
        };
        Box::pin(async move { answer })
    }
}

/// A TLS server for `names` on a listener of 127.0.0.1, serving `app`; it
/// counts the TCP connections it accepts.
pub struct TlsServer {
    pub ca_pem: String,
    pub connections: Arc<AtomicUsize>,
}

impl TlsServer {
    pub fn serve(
        listener: tokio::net::TcpListener,
        names: &[&str],
        app: axum::Router,
    ) -> TlsServer {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap()
                .signed_by(&leaf_key, &issuer)
                .unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
                    leaf_key.serialize_der().into(),
                ),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        TlsServer {
            ca_pem: ca_cert.pem(),
            connections,
        }
    }
}
