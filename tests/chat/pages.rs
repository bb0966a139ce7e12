//! History pages for pollers and busy courses: `ETag` / `If-None-Match` (304 with no body while a page
//! is unchanged, never once it changed) and the in-memory newest page, which must stay as fresh as
//! the database on every instance: posts, edits, deletions (tombstones), renames of authors.
use lms_e2e::{Backend, TestApp, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::class::{Class, class, post_to};
use crate::world::{Person, call, published_course};

backend_tests!(
    an_unchanged_page_is_304_and_every_change_makes_a_new_tag,
    the_newest_page_in_memory_is_as_fresh_as_the_database_on_every_instance,
    pages_of_other_sizes_and_replies_have_their_own_tags,
    concurrent_readers_of_many_courses_each_get_their_own_course_page,
);

/// GET `path` as `who`, with `If-None-Match` when given: (status, ETag, body if any).
async fn read(
    app: &TestApp,
    who: &Person,
    path: &str,
    tag: Option<&str>,
) -> (StatusCode, String, Option<Value>) {
    let mut request = app.client.get(app.url(path)).bearer_auth(&who.token);
    if let Some(tag) = tag {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    if status == StatusCode::OK {
        assert_eq!(response.headers()["cache-control"], "private, no-cache");
    }
    let bytes = response.bytes().await.unwrap();
    if status == StatusCode::NOT_MODIFIED {
        assert!(bytes.is_empty(), "a 304 has no body");
        return (status, etag, None);
    }
    (status, etag, Some(serde_json::from_slice(&bytes).unwrap()))
}

fn contents(page: &Value) -> Vec<Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].clone())
        .collect()
}

async fn an_unchanged_page_is_304_and_every_change_makes_a_new_tag(backend: Backend) {
    let class = class(backend, 2, |_| {}).await;
    let (a, b) = (&class.students[0], &class.students[1]);
    let first = class.post(a, "first").await;
    let path = class.path("/messages");
    let (status, tag, page) = read(&class.app, b, &path, None).await;
    assert_eq!(status, 200);
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 10,
        "{tag}"
    );
    assert_eq!(contents(&page.unwrap()), [json!("first")]);
    // Unchanged: 304 with the same tag, for anyone in the course; also in a list and weakly.
    for who in [a, b] {
        let (status, again, _) = read(&class.app, who, &path, Some(&tag)).await;
        assert_eq!(
            (status, again.as_str()),
            (StatusCode::NOT_MODIFIED, tag.as_str())
        );
    }
    let listed = format!("\"other\", W/{tag}");
    assert_eq!(read(&class.app, b, &path, Some(&listed)).await.0, 304);
    // Someone outside the course gets no 304 (nor the page).
    let outsider =
        crate::world::person(&class.app, "outsider", entity::users::UserRole::Student).await;
    assert_eq!(read(&class.app, &outsider, &path, Some(&tag)).await.0, 403);

    // Each change: the old tag gets the new page (200) with a new tag, which is then 304.
    let id = first["id"].as_i64().unwrap();
    let mut tag = tag;
    let changes: Vec<(&str, Method, String, Option<Value>, Value)> = vec![
        (
            "post",
            Method::POST,
            path.clone(),
            Some(json!({"content": "second"})),
            json!(["second", "first"]),
        ),
        (
            "edit",
            Method::PATCH,
            class.path(&format!("/messages/{id}")),
            Some(json!({"content": "first, edited"})),
            json!(["second", "first, edited"]),
        ),
        (
            "reply",
            Method::POST,
            path.clone(),
            Some(json!({"content": "a reply", "parent_id": id})),
            json!(["second", "first, edited"]),
        ),
        (
            "delete",
            Method::DELETE,
            class.path(&format!("/messages/{id}")),
            None,
            json!(["second", null]),
        ),
    ];
    for (what, method, change_path, body, expected) in changes {
        let response = call(&class.app, method, &change_path, Some(&a.token), body).await;
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
        let (status, new_tag, page) = read(&class.app, b, &path, Some(&tag)).await;
        assert_eq!(status, 200, "{what}: a changed page is never 304");
        assert_ne!(new_tag, tag, "{what}");
        assert_eq!(Value::from(contents(&page.unwrap())), expected, "{what}");
        assert_eq!(
            read(&class.app, b, &path, Some(&new_tag)).await.0,
            304,
            "{what}"
        );
        tag = new_tag;
    }
    // The author renames themself: pages that show their name change.
    let response = call(
        &class.app,
        Method::PATCH,
        "/api/v1/users/me",
        Some(&a.token),
        Some(json!({"first_name": "Renamed"})),
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    let (status, new_tag, page) = read(&class.app, b, &path, Some(&tag)).await;
    assert_eq!(status, 200);
    assert_ne!(new_tag, tag);
    let page = page.unwrap();
    assert!(
        page["items"][0]["author"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Renamed"),
        "{page}"
    );
}

async fn the_newest_page_in_memory_is_as_fresh_as_the_database_on_every_instance(backend: Backend) {
    let class: Class = class(backend, 2, |c| c.chat_posts_per_minute = 1000).await;
    let other = class
        .app
        .another_instance(|c| c.chat_posts_per_minute = 1000)
        .await;
    let (a, b) = (&class.students[0], &class.students[1]);
    let path = class.path("/messages?limit=20");
    // Both instances hold the page in memory (read twice each).
    for app in [&class.app, &other] {
        for _ in 0..2 {
            assert_eq!(read(app, b, &path, None).await.0, 200);
        }
    }
    // Post on one, read on the other at once, alternating: the post is always there, and a tag
    // from before the post is never answered 304.
    let mut tag = read(&other, b, &path, None).await.1;
    for i in 0..10 {
        let (writer, reader) = if i % 2 == 0 {
            (&class.app, &other)
        } else {
            (&other, &class.app)
        };
        let text = format!("message {i}");
        post_to(writer, class.course_id, a, json!({ "content": text })).await;
        let (status, new_tag, page) = read(reader, b, &path, Some(&tag)).await;
        assert_eq!(status, 200, "message {i}: a changed page is never 304");
        assert_eq!(page.unwrap()["items"][0]["content"], text.as_str());
        tag = new_tag;
    }
    // A deletion on one instance leaves the other's page at once (a tombstone, no content).
    let newest = read(&class.app, b, &path, None).await.2.unwrap()["items"][0].clone();
    let id = newest["id"].as_i64().unwrap();
    let deleted = call(
        &other,
        Method::DELETE,
        &class.path(&format!("/messages/{id}")),
        Some(&a.token),
        None,
    )
    .await;
    assert!(deleted.status().is_success());
    let page = read(&class.app, b, &path, None).await.2.unwrap();
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(page["items"][0]["deleted"], true);
    assert_eq!(page["items"][0]["content"], Value::Null);
    // With the cache off the answers are the same.
    let uncached = class
        .app
        .another_instance(|c| c.chat_page_cache_mb = 0)
        .await;
    let (_, off_tag, off_page) = read(&uncached, b, &path, None).await;
    let (_, on_tag, on_page) = read(&class.app, b, &path, None).await;
    assert_eq!((off_tag, off_page), (on_tag, on_page));
}

async fn pages_of_other_sizes_and_replies_have_their_own_tags(backend: Backend) {
    let class = class(backend, 1, |c| c.chat_posts_per_minute = 1000).await;
    let a = &class.students[0];
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            class.post(a, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let small = class.path("/messages?limit=2");
    let large = class.path("/messages?limit=3");
    let (_, small_tag, small_page) = read(&class.app, a, &small, None).await;
    let (_, large_tag, large_page) = read(&class.app, a, &large, None).await;
    assert_ne!(small_tag, large_tag);
    assert_eq!(contents(&small_page.unwrap()), [json!("m4"), json!("m3")]);
    assert_eq!(
        contents(&large_page.unwrap()),
        [json!("m4"), json!("m3"), json!("m2")]
    );
    // A tag is only good for its own page.
    assert_eq!(read(&class.app, a, &large, Some(&small_tag)).await.0, 200);
    let older = class.path(&format!("/messages?limit=2&before={}", ids[3]));
    let (status, older_tag, older_page) = read(&class.app, a, &older, None).await;
    assert_eq!(status, 200);
    assert_eq!(contents(&older_page.unwrap()), [json!("m2"), json!("m1")]);
    assert_eq!(read(&class.app, a, &older, Some(&older_tag)).await.0, 304);
    // Replies: tagged the same way; a new reply changes the tag.
    let replies = class.path(&format!("/messages/{}/replies", ids[0]));
    let (status, reply_tag, _) = read(&class.app, a, &replies, None).await;
    assert_eq!(status, 200);
    assert_eq!(read(&class.app, a, &replies, Some(&reply_tag)).await.0, 304);
    post_to(
        &class.app,
        class.course_id,
        a,
        json!({"content": "re", "parent_id": ids[0]}),
    )
    .await;
    let (status, _, page) = read(&class.app, a, &replies, Some(&reply_tag)).await;
    assert_eq!(status, 200);
    assert_eq!(contents(&page.unwrap()), [json!("re")]);
    // Bad input is still 422, tag or not.
    let bad = class.path("/messages?limit=0");
    assert_eq!(read(&class.app, a, &bad, Some(&small_tag)).await.0, 422);
}

/// Versions of concurrent reads are looked up together: each reader must still get its own course's
/// page and tag (and a course without messages its empty page).
async fn concurrent_readers_of_many_courses_each_get_their_own_course_page(backend: Backend) {
    let class = class(backend, 0, |c| c.chat_posts_per_minute = 1000).await;
    let owner = &class.owner;
    let mut paths = vec![class.path("/messages")];
    for i in 0..3 {
        let course = published_course(&class.app, owner, &format!("Course {i}"), 0).await;
        let id = course["id"].as_i64().unwrap();
        paths.push(format!("/api/v1/courses/{id}/messages"));
    }
    let mut expected = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let id: i64 = path.split('/').nth(4).unwrap().parse().unwrap();
        // Course i has i messages, the newest "course {id} #{i}".
        for n in 1..=i {
            post_to(
                &class.app,
                id,
                owner,
                json!({ "content": format!("course {id} #{n}") }),
            )
            .await;
        }
        let (status, tag, page) = read(&class.app, owner, path, None).await;
        assert_eq!(status, 200);
        let newest = (i > 0).then(|| json!(format!("course {id} #{i}")));
        assert_eq!(contents(&page.unwrap()).first().cloned(), newest);
        expected.push((tag, newest));
    }
    let app = &class.app;
    let reads = (0..48).map(|n| {
        let course = n % paths.len();
        let path = &paths[course];
        async move { (course, read(app, owner, path, None).await) }
    });
    for (course, (status, tag, page)) in futures_util::future::join_all(reads).await {
        assert_eq!(status, 200);
        assert_eq!(tag, expected[course].0, "course #{course}: its own tag");
        assert_eq!(
            contents(&page.unwrap()).first().cloned(),
            expected[course].1
        );
    }
}
