use chrono::{Duration, Utc};
use entity::{access_signals, mfa_challenges, rate_limits, refresh_tokens, sessions};
use lms_e2e::{Backend, TestApp, backend_tests};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::common::{get, login, register};

backend_tests!(housekeeping_removes_stale_auth_rows_and_keeps_live_ones);

async fn housekeeping_removes_stale_auth_rows_and_keeps_live_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    register(&app, "ada").await;
    let old = login(&app, "ada").await;
    let expired = login(&app, "ada").await;
    let live = login(&app, "ada").await;
    let long_ago = Utc::now() - Duration::days(40);
    let set_session = |public_id: &serde_json::Value, column: sessions::Column| {
        sessions::Entity::update_many()
            .col_expr(column, Expr::value(long_ago))
            .filter(sessions::Column::PublicId.eq(public_id.as_str().unwrap()))
            .exec(&app.db)
    };
    set_session(&old["session_id"], sessions::Column::RevokedAt)
        .await
        .unwrap();
    set_session(&expired["session_id"], sessions::Column::ExpiresAt)
        .await
        .unwrap();

    let now = Utc::now().timestamp();
    for (key, window_start, blocked_until) in [
        ("stale", now - 3 * 24 * 3600, None),
        ("fresh", now - 60, None),
        ("still-blocking", now - 3 * 24 * 3600, Some(now + 600)),
    ] {
        rate_limits::ActiveModel {
            key: Set(key.into()),
            hits: Set(3),
            window_start: Set(window_start),
            blocked_until: Set(blocked_until),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let user_id = live["user"]["id"].as_i64().unwrap();
    for (hash, expires) in [
        ("a".repeat(64), Utc::now() - Duration::hours(2)),
        ("b".repeat(64), Utc::now() + Duration::minutes(5)),
    ] {
        mfa_challenges::ActiveModel {
            token_hash: Set(hash),
            user_id: Set(user_id),
            failed_attempts: Set(0),
            user_agent: Set(None),
            ip_address: Set(None),
            expires_at: Set(expires),
            consumed_at: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }

    // Access signals (what polling instances read, on MySQL) older than an hour go.
    for (scope, age) in [("1", Duration::hours(2)), ("2", Duration::minutes(5))] {
        access_signals::ActiveModel {
            scope: Set(scope.into()),
            created_at: Set(Utc::now() - age),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }

    let report = lms_core::housekeeping::run_once(&app.db).await.unwrap();
    assert_eq!(report.access_signals, 1, "{report:?}");
    let signals: Vec<String> = access_signals::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.scope)
        .collect();
    assert!(signals.contains(&"2".to_string()), "{signals:?}");
    assert_eq!(
        (report.sessions, report.refresh_tokens),
        (2, 2),
        "{report:?}"
    );
    assert_eq!(report.rate_limits, 1, "{report:?}");
    assert_eq!(report.mfa_challenges, 1, "{report:?}");

    let keys: Vec<String> = rate_limits::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert!(
        keys.contains(&"fresh".to_string()) && keys.contains(&"still-blocking".to_string()),
        "{keys:?}"
    );
    assert_eq!(sessions::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(
        refresh_tokens::Entity::find().count(&app.db).await.unwrap(),
        1
    );
    assert_eq!(
        get(
            &app,
            "/api/v1/users/me",
            live["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    // Nothing left to do the second time.
    assert_eq!(
        lms_core::housekeeping::run_once(&app.db).await.unwrap(),
        lms_core::housekeeping::Report::default()
    );
}
