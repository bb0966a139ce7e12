use entity::users::UserRole;
use lms_e2e::app::assert_problem;
use lms_e2e::{Backend, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{call, course, json_ok, person, published_course, spawn};

backend_tests!(
    an_instructor_takes_a_course_from_draft_to_published_to_archived,
    drafts_are_invisible_to_everyone_but_their_instructor_and_admins,
    the_catalog_filters_sorts_and_pages_stably_while_courses_are_added,
    discounts_set_the_effective_price_while_they_run,
    prices_are_integers_and_bad_course_input_is_422,
    cursors_are_refused_unless_issued_for_the_same_query,
);

async fn an_instructor_takes_a_course_from_draft_to_published_to_archived(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let created = call(
        &app,
        Method::POST,
        "/api/v1/courses",
        Some(&teacher.token),
        Some(json!({"title": "Rust for Rustaceans!"})),
    )
    .await;
    let draft = json_ok(created, 201).await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["slug"], "rust-for-rustaceans");
    let id = draft["id"].as_i64().unwrap();

    // Publishing checks completeness, naming every missing field: the course's state, not the
    // request, is what stands in the way (409).
    let problem = assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{id}/publish"),
            Some(&teacher.token),
            None,
        )
        .await,
        409,
    )
    .await;
    assert!(
        problem["errors"]["description"].is_array() && problem["errors"]["category"].is_array(),
        "{problem}"
    );
    let patch = json!({"description": "Idiomatic, fast and safe Rust.", "category": "Programming", "price_cents": 4900});
    json_ok(
        call(
            &app,
            Method::PATCH,
            &format!("/api/v1/courses/{id}"),
            Some(&teacher.token),
            Some(patch),
        )
        .await,
        200,
    )
    .await;
    let published = json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{id}/publish"),
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{id}/publish"),
            Some(&teacher.token),
            None,
        )
        .await,
        409,
    )
    .await;
    // Published courses are archived, not deleted.
    assert_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/courses/{id}"),
            Some(&teacher.token),
            None,
        )
        .await,
        409,
    )
    .await;
    let archived = json_ok(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{id}/archive"),
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(archived["status"], "archived");
    // Archived courses take no new students.
    let student = person(&app, "stu", UserRole::Student).await;
    assert_problem(
        call(
            &app,
            Method::POST,
            &format!("/api/v1/courses/{id}/enrollments"),
            Some(&student.token),
            None,
        )
        .await,
        409,
    )
    .await;

    // A draft without enrollments can be deleted.
    let other = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.token),
            Some(json!({"title": "Scratch"})),
        )
        .await,
        201,
    )
    .await;
    let other_id = other["id"].as_i64().unwrap();
    let deleted = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/courses/{other_id}"),
        Some(&teacher.token),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_problem(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/courses/{other_id}"),
            Some(&teacher.token),
            None,
        )
        .await,
        404,
    )
    .await;
    // Slugs are unique.
    let dup = call(
        &app,
        Method::POST,
        "/api/v1/courses",
        Some(&teacher.token),
        Some(json!({"title": "Rust for Rustaceans"})),
    )
    .await;
    assert_problem(dup, 409).await;
}

async fn drafts_are_invisible_to_everyone_but_their_instructor_and_admins(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let other = person(&app, "other", UserRole::Instructor).await;
    let admin = person(&app, "root", UserRole::Admin).await;
    let draft = json_ok(
        call(
            &app,
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.token),
            Some(json!({"title": "Secret plans"})),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/courses/{}", draft["id"]);
    assert_problem(call(&app, Method::GET, &path, None, None).await, 404).await;
    assert_problem(
        call(&app, Method::GET, &path, Some(&other.token), None).await,
        404,
    )
    .await;
    json_ok(
        call(&app, Method::GET, &path, Some(&teacher.token), None).await,
        200,
    )
    .await;
    json_ok(
        call(&app, Method::GET, &path, Some(&admin.token), None).await,
        200,
    )
    .await;
    json_ok(
        call(
            &app,
            Method::GET,
            "/api/v1/courses/secret-plans",
            Some(&teacher.token),
            None,
        )
        .await,
        200,
    )
    .await;
    let listed: Value = json_ok(
        call(&app, Method::GET, "/api/v1/courses", None, None).await,
        200,
    )
    .await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    // Admins may feature courses; instructors may not.
    let feature = json!({"is_featured": true});
    assert_problem(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(feature.clone()),
        )
        .await,
        403,
    )
    .await;
    json_ok(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&admin.token),
            Some(feature),
        )
        .await,
        200,
    )
    .await;
}

async fn the_catalog_filters_sorts_and_pages_stably_while_courses_are_added(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let other = person(&app, "other", UserRole::Instructor).await;
    let mut ids = Vec::new();
    for (i, price) in [0, 1500, 2500, 0, 9900, 4900, 1500].iter().enumerate() {
        let owner = if i % 2 == 0 { &teacher } else { &other };
        ids.push(
            published_course(&app, owner, &format!("Course number {i}"), *price).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let titles = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let get = |query: String| {
        let app = &app;
        async move {
            json_ok(
                call(
                    app,
                    Method::GET,
                    &format!("/api/v1/courses?{query}"),
                    None,
                    None,
                )
                .await,
                200,
            )
            .await
        }
    };

    assert_eq!(
        titles(&get("free=true".into()).await),
        ["Course number 3", "Course number 0"]
    );
    assert_eq!(
        get("min_price=2000&max_price=5000".into()).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get(format!("instructor_id={}", other.id)).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        titles(&get("q=NUMBER%205".into()).await),
        ["Course number 5"]
    );
    let prices: Vec<i64> = get("sort=price_asc".into()).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["price_cents"].as_i64().unwrap())
        .collect();
    assert_eq!(prices, [0, 0, 1500, 1500, 2500, 4900, 9900]);

    // Keyset paging: pages of 3 by price, with courses added between pages, never repeat or skip.
    let first = app
        .client
        .get(app.url("/api/v1/courses?sort=price_desc&limit=3"))
        .send()
        .await
        .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.contains("rel=\"next\"")
            && link.contains("sort=price_desc")
            && link.contains("limit=3"),
        "{link}"
    );
    let first: Value = first.json().await.unwrap();
    let mut seen = titles(&first);
    published_course(&app, &teacher, "Late and expensive", 99_900).await;
    published_course(&app, &teacher, "Late and cheap", 100).await;
    let mut cursor = first["next_cursor"].as_str().unwrap().to_string();
    loop {
        let page = get(format!("sort=price_desc&limit=3&cursor={cursor}")).await;
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let expected_tail = ["Late and cheap", "Course number 3", "Course number 0"];
    assert_eq!(&seen[seen.len() - 3..], expected_tail, "{seen:?}");
    assert_eq!(
        seen.len(),
        8,
        "the course added above the cursor is not shown, none repeats: {seen:?}"
    );

    for sort in ["newest", "rating", "popular", "price_asc", "price_desc"] {
        let mut all = Vec::new();
        let mut path = format!("sort={sort}&limit=2");
        loop {
            let page = get(path.clone()).await;
            all.extend(titles(&page));
            match page["next_cursor"].as_str() {
                Some(next) => path = format!("sort={sort}&limit=2&cursor={next}"),
                None => break,
            }
        }
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 9, "{sort}: {all:?}");
        assert_eq!(all.len(), 9, "{sort}: {all:?}");
    }
    assert_problem(
        call(&app, Method::GET, "/api/v1/courses?limit=101", None, None).await,
        422,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::GET,
            "/api/v1/courses?cursor=garbage",
            None,
            None,
        )
        .await,
        400,
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::GET,
            "/api/v1/courses?sort=cheapest",
            None,
            None,
        )
        .await,
        400,
    )
    .await;
    let _ = ids;
}

async fn discounts_set_the_effective_price_while_they_run(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course_json = published_course(&app, &teacher, "Discounted", 5000).await;
    let id = course_json["id"].as_i64().unwrap();
    let path = format!("/api/v1/courses/{id}");
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    json_ok(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(json!({"discount_price_cents": 2000, "discount_ends_at": later})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(course(&app, id).await["effective_price_cents"], 2000);
    let student = person(&app, "stu", UserRole::Student).await;
    let enrollment = crate::world::enroll(&app, &student, id).await;
    assert_eq!(enrollment["amount_cents"], 2000);
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    json_ok(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(json!({"discount_ends_at": past})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(course(&app, id).await["effective_price_cents"], 5000);
    let problem = assert_problem(
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&teacher.token),
            Some(json!({"discount_price_cents": 6000})),
        )
        .await,
        422,
    )
    .await;
    assert!(problem["errors"]["discount_price_cents"].is_array());
}

async fn prices_are_integers_and_bad_course_input_is_422(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teacher", UserRole::Instructor).await;
    let course_json = published_course(&app, &teacher, "Money", 1999).await;
    for field in ["price_cents", "effective_price_cents"] {
        assert!(
            course_json[field].is_i64(),
            "{field} is an integer: {course_json}"
        );
    }
    for (body, field) in [
        (
            json!({"title": "Ok title", "price_cents": -1}),
            "price_cents",
        ),
        (json!({"title": "Ok title", "currency": "EURO"}), "currency"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "Ok title", "slug": "Bad Slug"}), "slug"),
        (
            json!({"title": "Ok title", "thumbnail_url": "ftp://x"}),
            "thumbnail_url",
        ),
    ] {
        let problem = assert_problem(
            call(
                &app,
                Method::POST,
                "/api/v1/courses",
                Some(&teacher.token),
                Some(body),
            )
            .await,
            422,
        )
        .await;
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    // A float price is not a price.
    let float = call(
        &app,
        Method::POST,
        "/api/v1/courses",
        Some(&teacher.token),
        Some(json!({"title": "Ok title", "price_cents": 19.99})),
    )
    .await;
    assert_problem(float, 422).await;
    // JSON does not tell 1.0 from 1: an integral number is that integer.
    let integral = call(
        &app,
        Method::POST,
        "/api/v1/courses",
        Some(&teacher.token),
        Some(json!({"title": "Integral price", "price_cents": 1500.0})),
    )
    .await;
    assert_eq!(integral.status(), 201);
    assert_eq!(integral.json::<Value>().await.unwrap()["price_cents"], 1500);
    // A slug made from a short or numeric title is still a slug (never taken for an id).
    for (title, slug) in [("Go", "course-go"), ("2048", "course-2048")] {
        let made = call(
            &app,
            Method::POST,
            "/api/v1/courses",
            Some(&teacher.token),
            Some(json!({ "title": title })),
        )
        .await;
        assert_eq!(made.status(), 201, "{title}");
        assert_eq!(made.json::<Value>().await.unwrap()["slug"], slug);
    }
    let level = call(
        &app,
        Method::POST,
        "/api/v1/courses",
        Some(&teacher.token),
        Some(json!({"title": "Ok title", "level": "expert"})),
    )
    .await;
    assert_problem(level, 422).await;
}

/// A cursor is opaque and tamper-evident: a forged one, or one issued for another sort, filter or list,
/// is a 400, never a 500 or a page of something else.
async fn cursors_are_refused_unless_issued_for_the_same_query(backend: Backend) {
    let app = spawn(backend).await;
    let teacher = person(&app, "teach", UserRole::Instructor).await;
    let root = person(&app, "root", UserRole::Admin).await;
    for i in 0..3 {
        published_course(&app, &teacher, &format!("Paged course {i}"), 100 * i).await;
    }
    let page = |path: String, token: Option<String>| {
        let app = &app;
        async move { call(app, Method::GET, &path, token.as_deref(), None).await }
    };
    let newest = json_ok(
        page("/api/v1/courses?sort=newest&limit=1".into(), None).await,
        200,
    )
    .await;
    let cursor = newest["next_cursor"].as_str().unwrap().to_string();
    json_ok(
        page(
            format!("/api/v1/courses?sort=newest&limit=1&cursor={cursor}"),
            None,
        )
        .await,
        200,
    )
    .await;
    // base64url of {"k":1,"id":1}: the position a client could write by hand (a 500 on PostgreSQL once).
    let forged = "eyJrIjoxLCJpZCI6MX0";
    let users = json_ok(
        page(
            "/api/v1/admin/users?limit=1".into(),
            Some(root.token.clone()),
        )
        .await,
        200,
    )
    .await;
    let users_cursor = users["next_cursor"].as_str().unwrap().to_string();
    for (path, token) in [
        (format!("/api/v1/courses?sort=newest&cursor={forged}"), None),
        (
            format!("/api/v1/courses?sort=newest&cursor={forged}.AAAAAAAAAAAAAAAAAAAAAA"),
            None,
        ),
        (
            format!("/api/v1/courses?sort=price_asc&limit=1&cursor={cursor}"),
            None,
        ),
        (
            format!("/api/v1/courses?sort=newest&free=true&limit=1&cursor={cursor}"),
            None,
        ),
        (
            format!("/api/v1/courses?sort=newest&cursor={users_cursor}"),
            None,
        ),
        (
            format!("/api/v1/admin/users?role=admin&limit=1&cursor={users_cursor}"),
            Some(root.token.clone()),
        ),
        (
            format!("/api/v1/admin/users?limit=1&cursor={cursor}"),
            Some(root.token.clone()),
        ),
        (
            format!("/api/v1/users/me/enrollments?cursor={users_cursor}"),
            Some(root.token.clone()),
        ),
    ] {
        let problem = assert_problem(page(path.clone(), token).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("cursor"),
            "{path}: {problem}"
        );
    }
}
