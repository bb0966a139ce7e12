use super::*;
use crate::rules::{Range, Text};

/// Stars, 1 to 5.
pub const RATING: Range = Range::new(1, 5);
pub const COMMENT: Text = Text::up_to(5000);

crate::rule_schemas! {
    rating_schema => RATING;
    comment_schema => COMMENT, nullable;
}

/// Writes or edits the student's review. The course's sum and count move by exactly the difference, in
/// one UPDATE with the enrollment's own conditional update, so concurrent reviews never lose one.
pub async fn review(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    rating: i16,
    comment: Option<String>,
) -> Result<enrollments::Model> {
    RATING
        .check(rating.into())
        .map_err(|message| Error::invalid("rating", message))?;
    if let Some(Err(message)) = comment.as_deref().map(|c| COMMENT.check(c)) {
        return Err(Error::invalid("comment", message));
    }
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    for _attempt in 0..5 {
        let (enrollment, _) = own(db, actor, id).await?;
        if !enrollment.status.grants_access() {
            return Err(Error::Conflict(format!(
                "only active or completed enrollments can be reviewed; this one is {}",
                enrollment.status.name()
            )));
        }
        let previous = enrollment.rating;
        let txn = db.begin().await?;
        let mut update = enrollments::Entity::update_many()
            .col_expr(enrollments::Column::Rating, Expr::value(rating))
            .col_expr(
                enrollments::Column::ReviewComment,
                Expr::value(comment.clone()),
            )
            .col_expr(enrollments::Column::ReviewedAt, Expr::value(now()))
            .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
            .filter(enrollments::Column::Id.eq(id));
        update = match previous {
            Some(old) => update.filter(enrollments::Column::Rating.eq(old)),
            None => update.filter(enrollments::Column::Rating.is_null()),
        };
        if update.exec(&txn).await?.rows_affected != 1 {
            // Another edit of this review won the race: read it again and apply ours on top.
            txn.rollback().await?;
            continue;
        }
        let (sum_delta, count_delta) = match previous {
            Some(old) => (i64::from(rating - old), 0),
            None => (i64::from(rating), 1),
        };
        use courses::Column as C;
        let new_sum = Expr::col(C::RatingSum).add(sum_delta);
        let new_count = Expr::col(C::RatingCount).add(count_delta);
        courses::Entity::update_many()
            .col_expr(C::RatingSum, new_sum.clone())
            .col_expr(C::RatingCount, new_count.clone())
            .col_expr(C::RatingAverage, new_sum.mul(Expr::val(1.0)).div(new_count))
            .filter(C::Id.eq(enrollment.course_id))
            .exec(&txn)
            .await?;
        let updated = enrollments::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
        txn.commit().await?;
        return Ok(updated);
    }
    Err(Error::Conflict(
        "the review is being edited elsewhere; try again".into(),
    ))
}

/// Published reviews of a visible course, newest first.
pub async fn reviews(
    db: &impl Db,
    page: Page<'_>,
    viewer: Option<&users::Model>,
    course_id: i64,
) -> Result<(Vec<(enrollments::Model, users::Model)>, Option<String>)> {
    page_limit(page.limit)?;
    find_visible(db, viewer, course_id).await?;
    let filter = Condition::all()
        .add(enrollments::Column::CourseId.eq(course_id))
        .add(enrollments::Column::Rating.is_not_null());
    let issued_for = format!("reviews:{course_id}");
    enrollment_page::<users::Entity>(db, page, &issued_for, filter).await
}
