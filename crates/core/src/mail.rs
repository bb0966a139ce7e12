//! Outgoing email behind one interface. SMTP (lettre) when `LMS_SMTP_URL` is set; otherwise the log
//! transport, which writes each message (links included) to the log so a developer can follow them
//! locally. `Mailer::memory()` keeps messages in memory, for tests and embedders that want to read what
//! was sent.
use std::sync::{Arc, Mutex};

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
pub enum Mailer {
    Log,
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Memory(Arc<Mutex<Vec<Email>>>),
}

impl Mailer {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://host:465`, or `smtp://localhost:25` (no TLS).
    pub fn smtp(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("LMS_SMTP_URL is not a valid SMTP URL: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("LMS_MAIL_FROM is not a valid mailbox: {e}"))?;
        Ok(Mailer::Smtp { transport, from })
    }

    pub fn memory() -> Self {
        Mailer::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Everything sent so far (memory transport only).
    pub fn sent(&self) -> Vec<Email> {
        match self {
            Mailer::Memory(outbox) => outbox.lock().map(|o| o.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    pub async fn send(&self, email: Email) -> anyhow::Result<()> {
        match self {
            Mailer::Log => {
                tracing::info!(
                    to = %email.to,
                    subject = %email.subject,
                    "email (log transport; set LMS_SMTP_URL to deliver mail):\n{}",
                    email.body
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(email.to.parse()?)
                    .subject(email.subject)
                    .body(email.body)?;
                transport.send(message).await?;
                Ok(())
            }
            Mailer::Memory(outbox) => {
                outbox
                    .lock()
                    .map_err(|_| anyhow::anyhow!("mail outbox poisoned"))?
                    .push(email);
                Ok(())
            }
        }
    }

    /// Sends in the background: the caller's response time does not depend on the mail server (so
    /// "forgot password" answers alike whether or not the address is known). Failures are logged.
    pub fn send_later(&self, email: Email) {
        if let Mailer::Memory(outbox) = self {
            // Nothing slow to wait for; keep it in order for whoever reads the outbox next.
            if let Ok(mut outbox) = outbox.lock() {
                outbox.push(email);
            }
            return;
        }
        let mailer = self.clone();
        tokio::spawn(async move {
            let to = email.to.clone();
            if let Err(err) = mailer.send(email).await {
                tracing::error!(error = %err, %to, "sending email failed");
            }
        });
    }
}
