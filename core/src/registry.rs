//! The link-time registry of named component factories.
//!
//! A component's config is declared once with [`config!`](crate::config): the struct, every
//! field's doc comment and default. That one source gives the config's `Default`, the field list
//! of `nsamp list` and the commented RON example of `nsamp list --full` and `schemas/`
//! ([`render_example`]). [`register!`](crate::register) then registers it (through `inventory`)
//! under a stable name with a one-line doc: the only way a component registers. A recipe names a component as a RON enum variant,
//! `Gmm40(std: 1.3)`; [`Spec`] looks the name up and hands the variant's content to the
//! component's own config type. Nothing lists the components centrally: linking a plugin crate
//! (and naming it once, so that rustc links it) registers its components.

use crate::error::NsampError;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, VariantAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A family of components: targets, models, objectives, samplers, correctors, metrics.
pub trait Family: 'static + Sized {
    /// The config trait object of this family, e.g. `dyn TargetConfig`.
    type Config: ?Sized + erased_serde::Serialize + dyn_clone::DynClone + fmt::Debug + Send + Sync;
    /// The family's name as users read it ("target").
    const KIND: &'static str;
    /// All registered entries of this family.
    fn entries() -> Vec<&'static Entry<Self>>;
}

/// One registered component: its name, documentation, fields, default config and parser.
pub struct Entry<F: Family> {
    /// The stable name a recipe uses, e.g. `Gmm40`.
    pub name: &'static str,
    /// One-line description.
    pub doc: &'static str,
    /// The config's fields with their doc comments, in declaration order.
    pub fields: &'static [FieldDoc],
    /// The commented RON example: every field at its default (rendered from the config).
    pub example: fn(&'static str) -> String,
    /// The default config.
    pub default: fn() -> Box<F::Config>,
    /// Deserialises the component's config from the variant's content.
    pub deserialize: DeserializeFn<F>,
}

/// One documented field of a component's config.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FieldDoc {
    /// The field's name in RON.
    pub name: &'static str,
    /// Its doc comment (one or more lines).
    pub doc: &'static str,
}

/// A config declared with [`config!`](crate::config): its fields' docs and their default values
/// as RON.
pub trait Documented: Default {
    /// The fields, in declaration order.
    const FIELDS: &'static [FieldDoc];
    /// Each field's value as compact RON, in declaration order.
    fn field_values(&self) -> Vec<String>;
}

/// A value as compact one-line RON in the recipe dialect (`Some(..)` written out, a component
/// written `Name(field: value)`), e.g. `(sigma_min: 1e-5, sigma_max: 1.0)`.
pub fn to_ron_compact<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, ron::Error> {
    let pretty = ron::ser::PrettyConfig::new()
        .struct_names(false)
        .compact_structs(true)
        .compact_arrays(true)
        .new_line("".to_string())
        .indentor("".to_string());
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES)
        .to_string_pretty(value, pretty)
}

/// The commented RON example of a config: `Name(` then, per field, its doc as `//` lines and
/// `field: default,`; `Name()` for a config without fields.
pub fn render_example<T: Documented>(name: &str) -> String {
    if T::FIELDS.is_empty() {
        return format!("// No fields.\n{name}()");
    }
    let mut s = format!("{name}(\n");
    for (f, v) in T::FIELDS.iter().zip(T::default().field_values()) {
        for line in f.doc.lines() {
            s.push_str(&format!("    //{line}\n"));
        }
        s.push_str(&format!("    {}: {v},\n", f.name));
    }
    s.push(')');
    s
}

/// A component's config parser, as registered.
pub type DeserializeFn<F> = fn(
    &mut dyn erased_serde::Deserializer,
) -> Result<Box<<F as Family>::Config>, erased_serde::Error>;

/// Looks a component up by name, or fails with the list of registered names of its family.
pub fn find<F: Family>(name: &str) -> Result<&'static Entry<F>, NsampError> {
    let entries = F::entries();
    entries
        .iter()
        .copied()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let mut known: Vec<&str> = entries.iter().map(|e| e.name).collect();
            known.sort_unstable();
            // A name registered in another family (`objective: Dwes` for the sampler `Dwes`).
            let elsewhere = list_all()
                .into_iter()
                .find(|l| l.name == name && l.kind != F::KIND)
                .map(|l| format!(" (`{name}` is a {0}: write `{0}: {name}(...)`)", l.kind))
                .unwrap_or_default();
            NsampError::UnknownComponent {
                kind: F::KIND,
                name: name.to_string(),
                known: if known.is_empty() {
                    "(none linked)".into()
                } else {
                    known.join(", ") + &elsewhere
                },
            }
        })
}

/// Registered names of a family, sorted.
pub fn names<F: Family>() -> Vec<&'static str> {
    let mut v: Vec<&str> = F::entries().iter().map(|e| e.name).collect();
    v.sort_unstable();
    v
}

/// A component chosen in a recipe: its registered name and its config.
///
/// In RON it reads `Name(field: value, ...)`; in JSON `{"Name": {"field": value}}`.
pub struct Spec<F: Family> {
    /// The registered name.
    pub name: &'static str,
    /// The component's config, which also builds it.
    pub config: Box<F::Config>,
}

impl<F: Family> Spec<F> {
    /// Parses a component from a RON snippet such as `Gmm40()`.
    pub fn from_ron(text: &str) -> Result<Self, ron::error::SpannedError> {
        crate::recipe::ron_options().from_str(text)
    }
}

impl<F: Family> Clone for Spec<F> {
    fn clone(&self) -> Self {
        Spec {
            name: self.name,
            config: dyn_clone::clone_box(&*self.config),
        }
    }
}

impl<F: Family> fmt::Debug for Spec<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{:?}", self.name, self.config)
    }
}

struct ErasedConfig<'a, C: ?Sized>(&'a C);

impl<C: ?Sized + erased_serde::Serialize> Serialize for ErasedConfig<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        erased_serde::serialize(self.0, s)
    }
}

impl<F: Family> Serialize for Spec<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant(F::KIND, 0, self.name, &ErasedConfig(&*self.config))
    }
}

impl<'de, F: Family> serde::Deserialize<'de> for Spec<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_enum(F::KIND, &[], SpecVisitor::<F>(PhantomData))
    }
}

struct SpecVisitor<F>(PhantomData<F>);

impl<'de, F: Family> Visitor<'de> for SpecVisitor<F> {
    type Value = Spec<F>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} such as `Name(...)`; one of: {}",
            F::KIND,
            names::<F>().join(", ")
        )
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let (name, variant): (VariantName, A::Variant) = data.variant()?;
        let entry = find::<F>(&name.0).map_err(de::Error::custom)?;
        let config = variant.newtype_variant_seed(ConfigSeed::<F>(entry))?;
        Ok(Spec {
            name: entry.name,
            config,
        })
    }
}

/// A variant name, read as an identifier (RON) or a string (JSON).
struct VariantName(String);

impl<'de> serde::Deserialize<'de> for VariantName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = VariantName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a component name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VariantName, E> {
                Ok(VariantName(v.to_string()))
            }
        }
        d.deserialize_identifier(V)
    }
}

struct ConfigSeed<F: Family>(&'static Entry<F>);

impl<'de, F: Family> DeserializeSeed<'de> for ConfigSeed<F> {
    type Value = Box<F::Config>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut erased = <dyn erased_serde::Deserializer>::erase(d);
        (self.0.deserialize)(&mut erased)
            .map_err(|e| de::Error::custom(format!("in {} `{}`: {e}", F::KIND, self.0.name)))
    }
}

/// Declares a component family: its marker type, its config trait and the inventory collection.
#[macro_export]
#[doc(hidden)]
macro_rules! __family {
    ($fam:ident, $cfg:path, $kind:literal) => {
        #[doc = concat!("The ", $kind, " family of the registry.")]
        pub struct $fam;
        impl $crate::registry::Family for $fam {
            type Config = dyn $cfg;
            const KIND: &'static str = $kind;
            fn entries() -> Vec<&'static $crate::registry::Entry<Self>> {
                $crate::inventory::iter::<$crate::registry::Entry<Self>>
                    .into_iter()
                    .collect()
            }
        }
        $crate::inventory::collect!($crate::registry::Entry<$fam>);
    };
}

/// Registers a component: `register!(Target, "Gmm40", Gmm40Config, "one-line doc")`.
///
/// The family is one of `Target`, `Model`, `Objective`, `Sampler`, `Corrector`, `Metric`; the
/// config type is declared with [`config!`](crate::config) (or implements
/// [`Documented`](crate::registry::Documented), `Deserialize` and `Default` by hand) and
/// implements the family's config trait.
#[macro_export]
macro_rules! register {
    ($family:ident, $name:literal, $config:ty, $doc:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::registry::Entry::<$crate::registry::families::$family> {
                name: $name,
                doc: $doc,
                fields: <$config as $crate::registry::Documented>::FIELDS,
                example: $crate::registry::render_example::<$config>,
                default: || Box::new(<$config as ::core::default::Default>::default()),
                deserialize: |d| Ok(Box::new($crate::erased_serde::deserialize::<$config>(d)?)),
            }
        }
    };
}

/// Declares a component's config from one source: the struct (serde, unknown fields refused,
/// omitted fields defaulted), its `Default` and its [`Documented`](crate::registry::Documented)
/// field docs, from which `nsamp list`, `schemas/` and the RON example are generated.
///
/// ```ignore
/// nsamp_core::config! {
///     /// `Mog4(radius: 5.0, std: 0.5)`.
///     pub struct MogConfig {
///         /// Radius of the circle of means.
///         radius: f32 = 5.0,
///         /// Per-axis standard deviation.
///         std: f32 = 0.5,
///     }
/// }
/// ```
/// Every field is public and documented; the crate needs `serde` (with `derive`).
#[macro_export]
macro_rules! config {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])+
                $field:ident : $ty:ty = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        $vis struct $name {
            $($(#[doc = $fdoc])+ pub $field: $ty,)*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $crate::registry::Documented for $name {
            const FIELDS: &'static [$crate::registry::FieldDoc] = &[$(
                $crate::registry::FieldDoc {
                    name: stringify!($field),
                    doc: concat!($($fdoc, "\n"),+),
                },
            )*];
            fn field_values(&self) -> Vec<String> {
                // An unprintable default makes the example unparsable, which the registry test
                // reports.
                vec![$($crate::registry::to_ron_compact(&self.$field)
                    .unwrap_or_else(|e| format!("<unprintable: {e}>"))),*]
            }
        }
    };
}

/// The six component families.
pub mod families {
    crate::__family!(Target, crate::target::TargetConfig, "target");
    crate::__family!(Model, crate::model::ModelConfig, "model");
    crate::__family!(Objective, crate::objective::ObjectiveConfig, "objective");
    crate::__family!(Corrector, crate::corrector::CorrectorConfig, "corrector");
    crate::__family!(Sampler, crate::sampler::SamplerConfig, "sampler");
    crate::__family!(Metric, crate::metric::MetricConfig, "metric");
}

/// One row of `nsamp list`: a registered component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    /// The family ("target", ...).
    pub kind: &'static str,
    /// The registered name.
    pub name: &'static str,
    /// One-line doc.
    pub doc: &'static str,
    /// The config's fields and their docs.
    pub fields: &'static [FieldDoc],
    /// The commented RON example, every field at its default.
    pub example: String,
}

fn listing<F: Family>() -> Vec<Listing> {
    let mut v: Vec<Listing> = F::entries()
        .iter()
        .map(|e| Listing {
            kind: F::KIND,
            name: e.name,
            doc: e.doc,
            fields: e.fields,
            example: (e.example)(e.name),
        })
        .collect();
    v.sort_by_key(|l| l.name);
    v
}

/// Every registered component of every family, grouped by family then sorted by name.
pub fn list_all() -> Vec<Listing> {
    let mut v = listing::<families::Target>();
    v.extend(listing::<families::Model>());
    v.extend(listing::<families::Objective>());
    v.extend(listing::<families::Sampler>());
    v.extend(listing::<families::Corrector>());
    v.extend(listing::<families::Metric>());
    v
}
