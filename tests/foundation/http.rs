//! The HTTP skeleton: probes, OpenAPI, docs, and one error shape for every kind of error.
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, TestApp, TestDb, backend_tests};
use serde_json::Value;

backend_tests!(
    liveness_and_readiness_answer_ok,
    readiness_is_503_problem_when_the_database_is_down,
    openapi_document_is_served_and_describes_the_api,
    swagger_ui_is_served_from_vendored_assets,
    unknown_routes_are_404_problems,
    wrong_methods_are_405_problems_with_allow,
    oversized_bodies_are_413_problems,
    every_response_carries_a_request_id,
    the_app_refuses_to_start_when_migrations_fail,
);

async fn liveness_and_readiness_answer_ok(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "ok");

    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
    };
    assert_eq!(body["database"], expected);
}

async fn readiness_is_503_problem_when_the_database_is_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db.close_by_ref().await.unwrap();
    let body = assert_problem(app.get("/health/ready").await, 503).await;
    assert_eq!(body["detail"], "the database cannot be reached");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

async fn openapi_document_is_served_and_describes_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "LMS API");
    for path in ["/health/live", "/health/ready"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(
            problem["properties"][field].is_object(),
            "Problem.{field} missing"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

async fn swagger_ui_is_served_from_vendored_assets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let init = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/openapi.json"));
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(
        bundle.bytes().await.unwrap().len() > 100_000,
        "the bundle is served from the binary"
    );
}

async fn unknown_routes_are_404_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/nope", "/api/v1/nope", "/api/v2/courses"] {
        assert_problem(app.get(path).await, 404).await;
    }
}

async fn wrong_methods_are_405_problems_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .delete(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(allow.contains("GET"), "{allow}");
    assert_problem(response, 405).await;
}

async fn oversized_bodies_are_413_problems(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_body_bytes = 1024).await;
    let response = app
        .client
        .post(app.url("/api/v1/anything"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_problem(response, 413).await;
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/health/live", "/nope"] {
        let response = app.get(path).await;
        let id = response
            .headers()
            .get("x-request-id")
            .expect("x-request-id");
        assert_eq!(id.len(), 36, "a UUID");
    }
    // A caller's own id is kept, so logs can be correlated across services.
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

async fn the_app_refuses_to_start_when_migrations_fail(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect().await;
    // A database migrated by a newer release: it has a migration this build does not know.
    use migration::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m9999_from_the_future', 0)",
    )
    .await
    .unwrap();
    let mut config = api::Config::new(test_db.url.clone());
    config.secret_key = Some("x".repeat(32));
    config.bind = "127.0.0.1:0".parse().unwrap();
    let err = api::Application::build(config)
        .await
        .err()
        .expect("start-up must fail");
    let message = format!("{err:#}");
    assert!(message.contains("refusing to start"), "{message}");
    assert!(message.contains("m9999_from_the_future"), "{message}");
}
