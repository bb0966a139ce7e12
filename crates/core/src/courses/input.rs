use super::*;

/// Fields of a course as a client sends them; absent fields are left alone on update.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    pub title: Option<String>,
    /// Lower-case letters, digits and dashes; made from the title when absent at creation.
    pub slug: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    #[schema(value_type = Option<String>, example = "beginner")]
    pub level: Option<CourseLevel>,
    /// BCP 47 language tag, e.g. `en` or `pt-BR`.
    pub language: Option<String>,
    /// List price in minor units (cents); 0 is free.
    pub price_cents: Option<i64>,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: Option<String>,
    /// Discounted price in minor units; must be below the list price. `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub discount_price_cents: Option<Option<i64>>,
    /// When the discount ends; `null` for no end.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub discount_ends_at: Option<Option<DateTime<Utc>>>,
    #[schema(value_type = Option<String>, example = "public")]
    pub visibility: Option<CourseVisibility>,
    pub duration_minutes: Option<i32>,
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
    slug.trim_end_matches('-').chars().take(200).collect()
}

pub(super) fn check_len(errors: &mut Errors, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n < min || n > max {
        errors.add(field, format!("must be {min} to {max} characters"));
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
        check_len(errors, "title", title, 3, 200);
        active.title = Set(title.trim().to_string());
    } else if creating {
        errors.add("title", "is required");
    }
    let slug = input
        .slug
        .clone()
        .or_else(|| creating.then(|| slugify(input.title.as_deref().unwrap_or(""))));
    if let Some(slug) = slug {
        let valid = (3..=200).contains(&slug.len())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && slug.parse::<i64>().is_err();
        if !valid {
            errors.add(
                "slug",
                "must be 3 to 200 of a-z, 0-9 and '-', not only digits",
            );
        }
        active.slug = Set(slug);
    }
    if let Some(text) = input.short_description.clone() {
        check_len(errors, "short_description", &text, 0, 500);
        active.short_description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(text) = input.description.clone() {
        check_len(errors, "description", &text, 0, 20_000);
        active.description = Set(Some(text.trim().to_string()).filter(|t| !t.is_empty()));
    }
    if let Some(category) = input.category.clone() {
        check_len(errors, "category", &category, 1, 100);
        active.category = Set(Some(category.trim().to_lowercase()));
    }
    if let Some(level) = input.level {
        active.level = Set(level);
    }
    if let Some(language) = input.language.clone() {
        let ok = (2..=16).contains(&language.len())
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
        if !(0..=100_000_000).contains(&p) {
            errors.add(
                "price_cents",
                "must be between 0 and 100000000 (minor units)",
            );
        }
        active.price_cents = Set(p);
    }
    if let Some(currency) = input.currency.clone() {
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
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
        if !(0..=1_000_000).contains(&minutes) {
            errors.add("duration_minutes", "must be between 0 and 1000000");
        }
        active.duration_minutes = Set(minutes);
    }
    if let Some(url) = input.thumbnail_url {
        if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
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
