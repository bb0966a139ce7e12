use super::*;

pub(super) fn certificate_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: String = random_bytes::<12>()
        .iter()
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect();
    format!("LMS-{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// Stores a recomputed progress of an active enrollment (the curriculum computes it) and writes the
/// change to the audit trail; nothing when the enrollment is no longer active.
pub(crate) async fn record_progress(
    txn: &DatabaseTransaction,
    enrollment: &enrollments::Model,
    percent: i16,
    actor: Actor,
    why: &str,
) -> Result<enrollments::Model> {
    let moved = enrollments::Entity::update_many()
        .col_expr(enrollments::Column::ProgressPercent, Expr::value(percent))
        .col_expr(enrollments::Column::UpdatedAt, Expr::value(now()))
        .filter(enrollments::Column::Id.eq(enrollment.id))
        .filter(enrollments::Column::Status.eq(EnrollmentStatus::Active))
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if moved {
        let note = format!(
            "progress {}% -> {percent}%: {why}",
            enrollment.progress_percent
        );
        record(
            txn,
            enrollment.id,
            Some(EnrollmentStatus::Active),
            EnrollmentStatus::Active,
            actor,
            Some(note),
        )
        .await?;
    }
    enrollments::Entity::find_by_id(enrollment.id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such enrollment".into()))
}

/// Completes an active enrollment and issues its certificate (in `txn`, audited with `note`).
pub(crate) async fn complete_with_certificate(
    txn: &DatabaseTransaction,
    enrollment: &enrollments::Model,
    actor: Actor,
    note: &str,
) -> Result<enrollments::Model> {
    let at = now();
    let code = certificate_code();
    transition(
        txn,
        enrollment,
        EnrollmentStatus::Completed,
        actor,
        Some(note.to_string()),
        |u| {
            u.col_expr(enrollments::Column::ProgressPercent, Expr::value(100i16))
                .col_expr(enrollments::Column::CompletedAt, Expr::value(at))
                .col_expr(enrollments::Column::CertificateCode, Expr::value(code))
                .col_expr(enrollments::Column::CertificateIssuedAt, Expr::value(at))
        },
    )
    .await
}

/// Staff mark an enrollment completed for work done elsewhere (a course without lessons completes
/// only this way): the certificate is issued, and the audit trail names who did it and why.
pub async fn mark_completed(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
    note: Option<String>,
) -> Result<(enrollments::Model, courses::Model)> {
    if let Some(Err(message)) = note.as_deref().map(|n| STAFF_NOTE.check(n)) {
        return Err(Error::invalid("note", message));
    }
    let (enrollment, course) = get(db, actor, id).await?;
    if !can_manage(Some(actor), &course) {
        return Err(Error::Forbidden(
            "only the course's instructor or an admin may do this".into(),
        ));
    }
    if enrollment.status != EnrollmentStatus::Active {
        return Err(Error::Conflict(format!(
            "only active enrollments can be marked completed; this one is {}",
            enrollment.status.name()
        )));
    }
    let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(why) => format!("marked completed by staff: {why}"),
        None => "marked completed by staff".to_string(),
    };
    let txn = db.begin().await?;
    let done = complete_with_certificate(&txn, &enrollment, Actor::User(actor.id), &note).await?;
    txn.commit().await?;
    Ok((done, course))
}

/// Why staff completed an enrollment (kept in the audit trail).
pub const STAFF_NOTE: crate::rules::Text = crate::rules::Text::up_to(400);

crate::rule_schemas! {
    staff_note_schema => STAFF_NOTE, nullable;
}

/// The audit trail of an enrollment, oldest first: status changes and progress, with who and why.
pub async fn trail(
    db: &impl Db,
    actor: &users::Model,
    id: i64,
) -> Result<Vec<enrollment_events::Model>> {
    let (enrollment, _) = get(db, actor, id).await?;
    Ok(enrollment_events::Entity::find()
        .filter(enrollment_events::Column::EnrollmentId.eq(enrollment.id))
        .order_by_asc(enrollment_events::Column::Id)
        .all(db)
        .await?)
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
