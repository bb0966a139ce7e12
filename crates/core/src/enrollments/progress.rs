use super::*;

pub(super) fn certificate_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: String = random_bytes::<12>()
        .iter()
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect();
    format!("LMS-{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

pub const PERCENT: crate::rules::Range = crate::rules::Range::new(0, 100);

crate::rule_schemas! {
    percent_schema => PERCENT;
}

/// Records progress. Progress never goes down: a lower value (an out-of-order update) leaves the
/// stored one. Reaching 100 completes the enrollment and issues its certificate.
pub async fn update_progress(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    percent: i16,
) -> Result<enrollments::Model> {
    PERCENT
        .check(percent.into())
        .map_err(|message| Error::invalid("progress_percent", message))?;
    let (enrollment, _) = own(db, actor, id).await?;
    match enrollment.status {
        EnrollmentStatus::Active => {}
        EnrollmentStatus::Completed => return Ok(enrollment),
        other => {
            return Err(Error::Conflict(format!(
                "progress is recorded on active enrollments; this one is {}",
                other.name()
            )));
        }
    }
    let txn = db.begin().await?;
    enrollments::Entity::update_many()
        .col_expr(enrollments::Column::ProgressPercent, Expr::value(percent))
        .col_expr(enrollments::Column::LastAccessedAt, Expr::value(now()))
        .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
        .filter(enrollments::Column::Id.eq(id))
        .filter(enrollments::Column::ProgressPercent.lt(percent))
        .exec(&txn)
        .await?;
    let current = enrollments::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))?;
    let updated = if percent == 100 && current.status == EnrollmentStatus::Active {
        let at = now();
        let code = certificate_code();
        transition(
            &txn,
            &current,
            EnrollmentStatus::Completed,
            Actor::User(actor.id),
            Some("progress reached 100%".into()),
            |u| {
                u.col_expr(enrollments::Column::CompletedAt, Expr::value(at))
                    .col_expr(enrollments::Column::CertificateCode, Expr::value(code))
                    .col_expr(enrollments::Column::CertificateIssuedAt, Expr::value(at))
            },
        )
        .await?
    } else {
        current
    };
    txn.commit().await?;
    Ok(updated)
}

/// Public verification of a certificate.
pub async fn certificate(
    db: &impl Db,
    code: &str,
) -> Result<(enrollments::Model, courses::Model, users::Model)> {
    let enrollment = enrollments::Entity::find()
        .filter(enrollments::Column::CertificateCode.eq(code.trim().to_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no certificate has this code".into()))?;
    let course = courses::Entity::find_by_id(enrollment.course_id)
        .one(db)
        .await?;
    let user = users::Entity::find_by_id(enrollment.user_id)
        .one(db)
        .await?;
    match (course, user) {
        (Some(course), Some(user)) => Ok((enrollment, course, user)),
        _ => Err(Error::NotFound("no certificate has this code".into())),
    }
}
