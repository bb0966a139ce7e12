use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub course_id: i64,
    pub status: EnrollmentStatus,
    /// Amount due or paid, in minor units of `currency`.
    pub amount_cents: i64,
    pub currency: String,
    pub payment_method: Option<PaymentMethod>,
    pub payment_status: PaymentStatus,
    /// The payment provider's reference; unique, so a webhook is applied once.
    pub payment_reference: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    pub progress_percent: i16,
    pub last_accessed_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    /// Public verification code of the certificate; unique.
    pub certificate_code: Option<String>,
    pub certificate_issued_at: Option<DateTimeUtc>,
    /// 1 to 5.
    pub rating: Option<i16>,
    #[sea_orm(column_type = "Text", nullable)]
    pub review_comment: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub enrolled_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(20))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    PendingPayment,
    Active,
    Completed,
    Cancelled,
    Refunded,
}

impl EnrollmentStatus {
    /// The statuses that let a student into the course (its content and chat) and count them in
    /// `courses.student_count`.
    pub const GRANTING_ACCESS: [EnrollmentStatus; 2] =
        [EnrollmentStatus::Active, EnrollmentStatus::Completed];

    /// Whether an enrollment in this status lets its student into the course.
    pub fn grants_access(self) -> bool {
        Self::GRANTING_ACCESS.contains(&self)
    }

    /// The transitions an enrollment may take: paid or free start, completion, cancellation and
    /// refunds. Everything else is refused.
    pub fn can_become(self, to: EnrollmentStatus) -> bool {
        use EnrollmentStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Active)
                | (PendingPayment, Cancelled)
                | (Active, Completed)
                | (Active, Cancelled)
                | (Active, Refunded)
                | (Completed, Refunded)
        )
    }

    /// Whether an enrollment in this status can end up in `to` through allowed transitions (or is
    /// there already).
    pub fn can_reach(self, to: EnrollmentStatus) -> bool {
        let mut seen = vec![self];
        let mut i = 0;
        while let Some(&from) = seen.get(i) {
            if from == to {
                return true;
            }
            for next in <EnrollmentStatus as sea_orm::Iterable>::iter()
                .filter(|next| from.can_become(*next))
            {
                if !seen.contains(&next) {
                    seen.push(next);
                }
            }
            i += 1;
        }
        false
    }

    /// The stored (and serialized) name, e.g. `pending_payment`.
    pub fn name(self) -> String {
        self.to_value()
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(20))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Free,
    Card,
    Paypal,
    BankTransfer,
    Voucher,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    None,
    Pending,
    Paid,
    Failed,
    Refunded,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::courses::Entity",
        from = "Column::CourseId",
        to = "super::courses::Column::Id",
        on_update = "Cascade",
        on_delete = "Restrict"
    )]
    Course,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::courses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Course.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
