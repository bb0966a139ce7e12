//! Joining, heartbeats, leaving, and what attendance adds up to.
//!
//! Attendance is stored as intervals (one row per join .. leave), so rejoining never loses time. An
//! interval nobody closes (a closed tab, a lost network) ends at its last heartbeat plus a grace
//! period; ending the session closes every open one. Durations count only time while the session was
//! live (from its start to its end, or to the window's close if nobody ended it), with overlapping
//! intervals merged.
//!
//! Joins of one session run one at a time (each locks the session's row first), so parallel joins of
//! one user leave one open interval and parallel joins of many never exceed `max_participants`.
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseTransaction;

use super::*;

/// Video-service settings: where rooms live and, for Jitsi's token authentication, the app
/// credentials (HS256).
#[derive(Debug, Clone)]
pub struct Jitsi {
    /// e.g. `https://meet.jit.si`
    pub url: String,
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
}

/// How an attendee enters the room.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinAnswer {
    pub session: SessionView,
    /// The room's name at the video service (unique, unguessable).
    pub room: String,
    /// `LMS_JITSI_URL/<room>`, plus `?jwt=<token>` when tokens are configured.
    pub room_url: String,
    /// A Jitsi JWT for this participant when `LMS_JITSI_APP_ID` and `LMS_JITSI_APP_SECRET` are set.
    pub token: Option<String>,
    /// Course staff moderate.
    pub moderator: bool,
    /// Send `POST /live-sessions/{id}/heartbeat` at least this often, or the interval ends.
    pub heartbeat_every_secs: u64,
}

/// The claims Jitsi's token authentication (prosody `token` auth) reads.
#[derive(Debug, Serialize, Deserialize)]
pub struct JitsiClaims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub room: String,
    pub exp: i64,
    pub nbf: i64,
    pub moderator: bool,
    pub context: JitsiContext,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JitsiContext {
    pub user: JitsiUser,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JitsiUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub moderator: bool,
}

impl Jitsi {
    /// The service's host (Jitsi's `sub`).
    fn host(&self) -> &str {
        let rest = self.url.split("://").nth(1).unwrap_or(&self.url);
        rest.split('/').next().unwrap_or(rest)
    }

    /// A token for `user` in `room`, valid until `until`, when credentials are configured.
    pub fn token(
        &self,
        user: &users::Model,
        room: &str,
        moderator: bool,
        until: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let (Some(app_id), Some(secret)) = (&self.app_id, &self.app_secret) else {
            return Ok(None);
        };
        let claims = JitsiClaims {
            aud: "jitsi".into(),
            iss: app_id.clone(),
            sub: self.host().to_string(),
            room: room.to_string(),
            exp: until.timestamp(),
            nbf: now().timestamp() - 10,
            moderator,
            context: JitsiContext {
                user: JitsiUser {
                    id: user.id.to_string(),
                    name: format!("{} {}", user.first_name, user.last_name),
                    email: user.email.clone(),
                    moderator,
                },
            },
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| Error::Internal(anyhow::anyhow!("signing a Jitsi token: {e}")))?;
        Ok(Some(token))
    }
}

/// How long an interval stays open without a heartbeat.
#[derive(Debug, Clone, Copy)]
pub struct Grace(pub Duration);

async fn lock_session(txn: &DatabaseTransaction, id: i64) -> Result<live_sessions::Model> {
    live_sessions::Entity::update_many()
        .col_expr(
            live_sessions::Column::UpdatedAt,
            Expr::col(live_sessions::Column::UpdatedAt),
        )
        .filter(live_sessions::Column::Id.eq(id))
        .exec(txn)
        .await?;
    live_sessions::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such live session".into()))
}

/// Closes the session's intervals whose heartbeat is older than the grace period, at that heartbeat
/// plus the grace.
async fn close_stale(txn: &impl ConnectionTrait, session_id: i64, grace: Grace) -> Result<()> {
    let stale: Vec<attendance_rows::Model> = attendance_rows::Entity::find()
        .filter(attendance_rows::Column::SessionId.eq(session_id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .filter(attendance_rows::Column::LastHeartbeatAt.lt(now() - grace.0))
        .all(txn)
        .await?;
    for interval in stale {
        attendance_rows::Entity::update_many()
            .col_expr(
                attendance_rows::Column::LeftAt,
                Expr::value(interval.last_heartbeat_at + grace.0),
            )
            .filter(attendance_rows::Column::Id.eq(interval.id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Closes every interval of a session that ends at `at`: those whose heartbeat went stale at their
/// heartbeat plus the grace, the others at `at`.
pub(crate) async fn close_all(
    db: &impl ConnectionTrait,
    session_id: i64,
    at: DateTime<Utc>,
    grace: Grace,
) -> Result<()> {
    close_stale(db, session_id, grace).await?;
    attendance_rows::Entity::update_many()
        .col_expr(attendance_rows::Column::LeftAt, Expr::value(at))
        .filter(attendance_rows::Column::SessionId.eq(session_id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Joins the session (members): inside the join window of a session that is scheduled or live.
/// Joining again while in the room keeps the one open interval.
pub async fn join(
    db: &impl Db,
    jitsi: &Jitsi,
    grace: Grace,
    user: &users::Model,
    id: i64,
) -> Result<JoinAnswer> {
    let (session, staff) = find(db, user, id).await?;
    let txn = db.begin().await?;
    let session = lock_session(&txn, session.id).await?;
    let window = JoinWindow::of(&session);
    let at = now();
    if matches!(session.status, LiveStatus::Cancelled | LiveStatus::Ended) {
        return Err(Error::Conflict(format!(
            "the session is {}",
            session.status.name()
        )));
    }
    if !window.contains(at) {
        return Err(Error::Conflict(format!(
            "the join window runs from {} to {}",
            window.opens_at.to_rfc3339(),
            window.closes_at.to_rfc3339()
        )));
    }
    close_stale(&txn, session.id, grace).await?;
    let open = attendance_rows::Entity::find()
        .filter(attendance_rows::Column::SessionId.eq(session.id))
        .filter(attendance_rows::Column::UserId.eq(user.id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .one(&txn)
        .await?;
    match open {
        Some(interval) => {
            attendance_rows::Entity::update_many()
                .col_expr(attendance_rows::Column::LastHeartbeatAt, Expr::value(at))
                .filter(attendance_rows::Column::Id.eq(interval.id))
                .exec(&txn)
                .await?;
        }
        None => {
            if let (Some(cap), false) = (session.max_participants, staff) {
                let inside = attendance_rows::Entity::find()
                    .filter(attendance_rows::Column::SessionId.eq(session.id))
                    .filter(attendance_rows::Column::LeftAt.is_null())
                    .filter(attendance_rows::Column::IsModerator.eq(false))
                    .count(&txn)
                    .await?;
                if inside >= cap as u64 {
                    return Err(Error::Conflict(format!(
                        "the session is full ({cap} participants)"
                    )));
                }
            }
            attendance_rows::ActiveModel {
                session_id: Set(session.id),
                user_id: Set(user.id),
                joined_at: Set(at),
                last_heartbeat_at: Set(at),
                left_at: Set(None),
                is_moderator: Set(staff),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
    }
    let attendees = live_attendees(&txn, session.id).await?;
    txn.commit().await?;
    let token = jitsi.token(user, &session.room_id, staff, window.closes_at)?;
    let base = jitsi.url.trim_end_matches('/');
    let room_url = match &token {
        Some(token) => format!("{base}/{}?jwt={token}", session.room_id),
        None => format!("{base}/{}", session.room_id),
    };
    Ok(JoinAnswer {
        room: session.room_id.clone(),
        room_url,
        token,
        moderator: staff,
        heartbeat_every_secs: (grace.0.num_seconds() / 3).max(5) as u64,
        session: view(session, attendees),
    })
}

/// Keeps the caller's open interval open; 409 when they are not in the room.
pub async fn heartbeat(db: &impl Db, grace: Grace, user: &users::Model, id: i64) -> Result<()> {
    let (session, _) = find(db, user, id).await?;
    let txn = db.begin().await?;
    lock_session(&txn, session.id).await?;
    close_stale(&txn, session.id, grace).await?;
    let kept = attendance_rows::Entity::update_many()
        .col_expr(attendance_rows::Column::LastHeartbeatAt, Expr::value(now()))
        .filter(attendance_rows::Column::SessionId.eq(session.id))
        .filter(attendance_rows::Column::UserId.eq(user.id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if kept.rows_affected == 0 {
        return Err(Error::Conflict(
            "not in the room (left, timed out or never joined): join again".into(),
        ));
    }
    Ok(())
}

/// Closes the caller's open interval (none open: nothing to do).
pub async fn leave(db: &impl Db, user: &users::Model, id: i64) -> Result<()> {
    let (session, _) = find(db, user, id).await?;
    attendance_rows::Entity::update_many()
        .col_expr(attendance_rows::Column::LeftAt, Expr::value(now()))
        .filter(attendance_rows::Column::SessionId.eq(session.id))
        .filter(attendance_rows::Column::UserId.eq(user.id))
        .filter(attendance_rows::Column::LeftAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// One attendee's attendance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttendeeReport {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub moderator: bool,
    pub first_joined_at: DateTime<Utc>,
    /// Null while in the room.
    pub last_left_at: Option<DateTime<Utc>>,
    /// Time in the room while the session was live, overlapping intervals merged.
    pub attended_seconds: i64,
    /// Of the scheduled duration.
    pub percent: f64,
    /// `percent` at or above the session's threshold.
    pub attended: bool,
}

/// `[start, end)` spans merged, clipped to `[from, to)`: their total seconds.
pub fn merged_seconds(
    spans: &mut [(DateTime<Utc>, DateTime<Utc>)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    spans.sort_unstable();
    let mut total = Duration::zero();
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for &(start, end) in spans.iter() {
        let (start, end) = (start.max(from), end.min(to));
        if end <= start {
            continue;
        }
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    total.num_seconds()
}

/// Per attendee: first join, last leave, merged seconds while live, percent of the scheduled
/// duration, attended (staff).
pub async fn report(
    db: &impl ConnectionTrait,
    grace: Grace,
    user: &users::Model,
    id: i64,
) -> Result<(live_sessions::Model, Vec<AttendeeReport>)> {
    let (session, staff) = find(db, user, id).await?;
    if !staff {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may read attendance".into(),
        ));
    }
    let reports = tally(db, &session, grace).await?;
    Ok((session, reports))
}

/// What each attendee's intervals add up to (see `report`).
pub(crate) async fn tally(
    db: &impl ConnectionTrait,
    session: &live_sessions::Model,
    grace: Grace,
) -> Result<Vec<AttendeeReport>> {
    let at = now();
    let window = JoinWindow::of(session);
    // Live from its start to its end, or to the window's close if nobody ended it.
    let live_from = session.started_at;
    let live_to = session.ended_at.unwrap_or(window.closes_at).min(at);
    let rows = attendance_rows::Entity::find()
        .filter(attendance_rows::Column::SessionId.eq(session.id))
        .find_also_related(users::Entity)
        .order_by_asc(attendance_rows::Column::UserId)
        .order_by_asc(attendance_rows::Column::JoinedAt)
        .all(db)
        .await?;
    let scheduled = i64::from(session.duration_minutes) * 60;
    let mut reports: Vec<AttendeeReport> = Vec::new();
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let flush = |report: Option<AttendeeReport>,
                 spans: &mut Vec<(DateTime<Utc>, DateTime<Utc>)>,
                 out: &mut Vec<AttendeeReport>| {
        if let Some(mut r) = report {
            r.attended_seconds = match live_from {
                Some(from) => merged_seconds(spans, from, live_to),
                None => 0,
            };
            r.percent = (r.attended_seconds as f64 * 1000.0 / scheduled as f64).round() / 10.0;
            r.attended = r.percent >= f64::from(session.attendance_threshold_percent);
            out.push(r);
        }
        spans.clear();
    };
    let mut current: Option<AttendeeReport> = None;
    for (interval, person) in rows {
        let Some(person) = person else { continue };
        if current.as_ref().is_some_and(|c| c.user_id != person.id) {
            flush(current.take(), &mut spans, &mut reports);
        }
        let end = interval
            .left_at
            .unwrap_or_else(|| (interval.last_heartbeat_at + grace.0).min(at));
        spans.push((interval.joined_at, end));
        let entry = current.get_or_insert_with(|| AttendeeReport {
            user_id: person.id,
            name: format!("{} {}", person.first_name, person.last_name),
            email: person.email.clone(),
            moderator: interval.is_moderator,
            first_joined_at: interval.joined_at,
            last_left_at: None,
            attended_seconds: 0,
            percent: 0.0,
            attended: false,
        });
        entry.last_left_at = interval.left_at;
    }
    flush(current.take(), &mut spans, &mut reports);
    Ok(reports)
}

/// The report as CSV (RFC 4180: a header row; fields quoted when they hold a comma, quote or line
/// break).
pub fn report_csv(reports: &[AttendeeReport]) -> String {
    fn field(value: &str) -> String {
        // A leading =, +, - or @ would be a formula to a spreadsheet: quote it as text.
        let risky = value.starts_with(['=', '+', '-', '@']);
        if risky || value.contains([',', '"', '\n', '\r']) {
            format!(
                "\"{}{}\"",
                if risky { "'" } else { "" },
                value.replace('"', "\"\"")
            )
        } else {
            value.to_string()
        }
    }
    let mut out = String::from(
        "user_id,name,email,moderator,first_joined_at,last_left_at,attended_seconds,percent,attended\r\n",
    );
    for r in reports {
        let row = [
            r.user_id.to_string(),
            field(&r.name),
            field(&r.email),
            r.moderator.to_string(),
            r.first_joined_at.to_rfc3339(),
            r.last_left_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.attended_seconds.to_string(),
            format!("{:.1}", r.percent),
            r.attended.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The caller's scheduled and live sessions across the courses they study or teach, soonest first.
pub async fn mine(db: &impl ConnectionTrait, user: &users::Model) -> Result<Vec<SessionView>> {
    let enrolled: Vec<i64> = enrollments::Entity::find()
        .select_only()
        .column(enrollments::Column::CourseId)
        .filter(enrollments::Column::UserId.eq(user.id))
        .filter(
            enrollments::Column::Status.is_in(
                entity::enrollments::EnrollmentStatus::GRANTING_ACCESS
                    .iter()
                    .copied(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    let taught: Vec<i64> = courses::Entity::find()
        .select_only()
        .column(courses::Column::Id)
        .filter(courses::Column::InstructorId.eq(user.id))
        .into_tuple()
        .all(db)
        .await?;
    let rows = live_sessions::Entity::find()
        .filter(live_sessions::Column::CourseId.is_in(enrolled.into_iter().chain(taught)))
        .filter(live_sessions::Column::Status.is_in([LiveStatus::Scheduled, LiveStatus::Live]))
        .order_by_asc(live_sessions::Column::StartsAt)
        .limit(100)
        .all(db)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for session in rows {
        let attendees = live_attendees(db, session.id).await?;
        views.push(view(session, attendees));
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + minute * 60, 0).expect("a time")
    }

    #[test]
    fn overlapping_intervals_are_merged_and_clipped_to_the_live_span() {
        let mut spans = vec![(t(0), t(10)), (t(5), t(20)), (t(30), t(40)), (t(-10), t(2))];
        // Live from minute 0 to minute 35.
        assert_eq!(merged_seconds(&mut spans, t(0), t(35)), (20 + 5) * 60);
        let mut outside = vec![(t(50), t(60))];
        assert_eq!(merged_seconds(&mut outside, t(0), t(35)), 0);
        let mut rejoined = vec![(t(0), t(10)), (t(10), t(15))];
        assert_eq!(merged_seconds(&mut rejoined, t(0), t(60)), 15 * 60);
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let row = AttendeeReport {
            user_id: 7,
            name: "Lovelace, \"Ada\"".into(),
            email: "=cmd@example.com".into(),
            moderator: false,
            first_joined_at: t(0),
            last_left_at: None,
            attended_seconds: 60,
            percent: 50.0,
            attended: false,
        };
        let csv = report_csv(&[row]);
        let line = csv.lines().nth(1).expect("a row");
        assert!(
            line.starts_with("7,\"Lovelace, \"\"Ada\"\"\",\"'=cmd@example.com\",false,"),
            "{line}"
        );
        assert!(line.ends_with(",60,50.0,false"), "{line}");
    }
}
