use super::*;
use crate::rules::{Range, Text, nullable_enum_of};

/// Fields of a course as a client sends them; absent fields are left alone on update.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    /// Required at creation.
    #[schema(schema_with = title_schema)]
    pub title: Option<String>,
    /// Lower-case letters, digits and dashes, not only digits; made from the title when absent at
    /// creation.
    #[schema(schema_with = slug_schema)]
    pub slug: Option<String>,
    #[schema(schema_with = short_description_schema)]
    pub short_description: Option<String>,
    #[schema(schema_with = description_schema)]
    pub description: Option<String>,
    /// Stored lower-cased; a published course needs one.
    #[schema(schema_with = category_schema)]
    pub category: Option<String>,
    #[schema(schema_with = nullable_enum_of::<CourseLevel>, example = "beginner")]
    pub level: Option<CourseLevel>,
    /// BCP 47 language tag, e.g. `en` or `pt-BR`.
    #[schema(schema_with = language_schema)]
    pub language: Option<String>,
    /// List price in minor units (cents); 0 is free.
    #[schema(schema_with = price_schema)]
    pub price_cents: Option<i64>,
    /// ISO 4217 code, e.g. `USD` (stored upper-cased).
    #[schema(schema_with = currency_schema)]
    pub currency: Option<String>,
    /// Discounted price in minor units; must be below the list price (so a free course has none).
    /// `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(schema_with = discount_schema)]
    pub discount_price_cents: Option<Option<i64>>,
    /// When the discount ends; `null` for no end.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub discount_ends_at: Option<Option<DateTime<Utc>>>,
    #[schema(schema_with = nullable_enum_of::<CourseVisibility>, example = "public")]
    pub visibility: Option<CourseVisibility>,
    #[schema(schema_with = duration_schema)]
    pub duration_minutes: Option<i32>,
    /// An http(s) URL.
    #[schema(schema_with = thumbnail_url_schema)]
    pub thumbnail_url: Option<String>,
    /// Admins only.
    pub is_featured: Option<bool>,
}

pub(super) fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(200).collect();
    if slug.is_empty() {
        "course".into()
    } else if slug.len() < 3 || slug.chars().all(|c| c.is_ascii_digit()) {
        // "Go", "2048": still a valid slug, and never mistaken for an id.
        format!("course-{slug}")
    } else {
        slug
    }
}

/// The body of a new course: `CourseInput` with `title` required (`slug` is made from it when
/// absent).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct NewCourse(pub CourseInput);

impl utoipa::PartialSchema for NewCourse {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{RefOr, schema::Schema};
        let mut schema = <CourseInput as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.required = vec!["title".into()];
            object
                .properties
                .insert("title".into(), TITLE.schema().into());
        }
        schema
    }
}

impl utoipa::ToSchema for NewCourse {}

pub const TITLE: Text = Text::between(1, 200);
/// Not only digits (a slug is never mistaken for an id), not starting with a dash.
pub const SLUG: Text =
    Text::between(3, 200).pattern("^(?:[a-z][a-z0-9-]*|[0-9]+[a-z-][a-z0-9-]*)$");
pub const SHORT_DESCRIPTION: Text = Text::up_to(500);
pub const DESCRIPTION: Text = Text::up_to(20_000);
pub const CATEGORY: Text = Text::between(1, 100);
pub const LANGUAGE: Text = Text::between(2, 16).pattern("^[A-Za-z0-9-]*$");
pub const CURRENCY: Text = Text::between(3, 3).pattern("^[A-Za-z]*$");
pub const THUMBNAIL_URL: Text = Text::between(8, 2048).pattern(crate::rules::HTTP_URL);
pub const PRICE: Range = Range::new(0, 100_000_000);
pub const DISCOUNT: Range = Range::new(0, 100_000_000 - 1);
pub const DURATION: Range = Range::new(0, 1_000_000);

crate::rule_schemas! {
    title_schema => TITLE, nullable;
    slug_schema => SLUG, nullable;
    short_description_schema => SHORT_DESCRIPTION, nullable;
    description_schema => DESCRIPTION, nullable;
    category_schema => CATEGORY, nullable;
    language_schema => LANGUAGE, nullable;
    currency_schema => CURRENCY, nullable;
    thumbnail_url_schema => THUMBNAIL_URL, nullable;
    price_schema => PRICE, nullable;
    discount_schema => DISCOUNT, nullable;
    duration_schema => DURATION, nullable;
}

/// Adds `field`'s message when `rule` refuses `value`.
pub(super) fn check(errors: &mut Errors, field: &str, parsed: std::result::Result<(), String>) {
    if let Err(message) = parsed {
        errors.add(field, message);
    }
}

/// Applies `input` to `active`, collecting every problem.
pub(super) fn apply(
    input: CourseInput,
    active: &mut courses::ActiveModel,
    actor: &users::Model,
    creating: bool,
) -> Result<()> {
    let mut errors = Errors::default();
    apply_description(&input, active, &mut errors, creating);
    apply_pricing(&input, active, &mut errors);
    apply_presentation(input, active, &mut errors, actor)?;
    errors.finish()
}

/// Title, slug, descriptions, category, level and language.
pub(super) fn apply_description(
    input: &CourseInput,
    active: &mut courses::ActiveModel,
    errors: &mut Errors,
    creating: bool,
) {
    if let Some(title) = &input.title {
        check(errors, "title", TITLE.check(title));
        active.title = Set(title.trim().to_string());
    } else if creating {
        errors.add("title", "is required");
    }
    let slug = input
        .slug
        .clone()
        .or_else(|| creating.then(|| slugify(input.title.as_deref().unwrap_or(""))));
    if let Some(slug) = slug {
        let valid = SLUG.check(&slug).is_ok()
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.chars().all(|c| c.is_ascii_digit());
        if !valid {
            errors.add(
                "slug",
                "must be 3 to 200 of a-z, 0-9 and '-', not only digits",
            );
        }
        active.slug = Set(slug);
    }
    if let Some(text) = input.short_description.clone() {
        check(errors, "short_description", SHORT_DESCRIPTION.check(&text));
        active.short_description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(text) = input.description.clone() {
        check(errors, "description", DESCRIPTION.check(&text));
        active.description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(category) = input.category.clone() {
        check(errors, "category", CATEGORY.check(&category));
        active.category = Set(Some(category.trim().to_lowercase()));
    }
    if let Some(level) = input.level {
        active.level = Set(level);
    }
    if let Some(language) = input.language.clone() {
        let ok = LANGUAGE.check(&language).is_ok()
            && language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            errors.add("language", "must be a language tag such as en or pt-BR");
        }
        active.language = Set(language);
    }
}

/// List price, currency and discount (checked against each other, and against what is stored).
pub(super) fn apply_pricing(
    input: &CourseInput,
    active: &mut courses::ActiveModel,
    errors: &mut Errors,
) {
    let price = input.price_cents.or(match &active.price_cents {
        sea_orm::ActiveValue::Set(p) | sea_orm::ActiveValue::Unchanged(p) => Some(*p),
        sea_orm::ActiveValue::NotSet => None,
    });
    if let Some(p) = input.price_cents {
        check(errors, "price_cents", PRICE.check(p));
        active.price_cents = Set(p);
    }
    if let Some(currency) = input.currency.clone() {
        if CURRENCY.check(&currency).is_err() || !currency.chars().all(|c| c.is_ascii_alphabetic())
        {
            errors.add("currency", "must be an ISO 4217 code such as USD");
        }
        active.currency = Set(currency.to_uppercase());
    }
    let discount = input
        .discount_price_cents
        .unwrap_or(match &active.discount_price_cents {
            sea_orm::ActiveValue::Set(d) | sea_orm::ActiveValue::Unchanged(d) => *d,
            sea_orm::ActiveValue::NotSet => None,
        });
    if let (Some(d), Some(p)) = (discount, price)
        && (d < 0 || d >= p)
    {
        errors.add(
            "discount_price_cents",
            "must be at least 0 and below the list price",
        );
    }
    if let Some(d) = input.discount_price_cents {
        active.discount_price_cents = Set(d);
    }
    if let Some(ends) = input.discount_ends_at {
        active.discount_ends_at = Set(ends);
    }
}

/// Visibility, duration, thumbnail, and featuring (admins only: 403 for anyone else).
pub(super) fn apply_presentation(
    input: CourseInput,
    active: &mut courses::ActiveModel,
    errors: &mut Errors,
    actor: &users::Model,
) -> Result<()> {
    if let Some(visibility) = input.visibility {
        active.visibility = Set(visibility);
    }
    if let Some(minutes) = input.duration_minutes {
        check(errors, "duration_minutes", DURATION.check(minutes.into()));
        active.duration_minutes = Set(minutes);
    }
    if let Some(url) = input.thumbnail_url {
        if THUMBNAIL_URL.check(&url).is_err()
            || !(url.starts_with("https://") || url.starts_with("http://"))
        {
            errors.add(
                "thumbnail_url",
                "must be an http(s) URL of at most 2048 characters",
            );
        }
        active.thumbnail_url = Set(Some(url));
    }
    if let Some(featured) = input.is_featured {
        if actor.role != UserRole::Admin {
            return Err(Error::Forbidden("only admins feature courses".into()));
        }
        active.is_featured = Set(featured);
    }
    Ok(())
}
