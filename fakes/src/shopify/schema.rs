//! Shopify's own GraphQL Admin schema (`../shared/shopify/admin_2026-10.json.gz`): every document
//! the fake receives, and every document Rekomi's client sends, is checked against it the way
//! Shopify checks it: parsed, validated (unknown fields, argument types, required input fields,
//! variables), then each selected field's access scopes compared with the token's.
//!
//! The file is an introspection result. apollo-compiler (Apollo's spec-complete GraphQL validator)
//! reads SDL, so the introspection is turned into SDL first; descriptions are left out.

use anyhow::{anyhow, Context};
use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Where the schema file is: `SHOPIFY_ADMIN_SCHEMA`, or `../shared/shopify/` beside the project.
pub fn default_path() -> PathBuf {
    std::env::var_os("SHOPIFY_ADMIN_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/shopify/admin_2026-10.json.gz"))
}

/// The schema and the scopes each type and field needs.
pub struct AdminSchema {
    schema: Valid<Schema>,
    /// `(type, field)` → scopes of which one suffices; `(type, "")` for a type as a whole.
    scopes: HashMap<(String, String), Vec<String>>,
}

/// Why a request was refused, as Shopify words it in `errors[].message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not valid GraphQL for this schema, or variables of the wrong shape.
    Invalid(Vec<String>),
    /// Valid, but the token lacks a scope: the field and the scopes that would do.
    AccessDenied { field: String, scopes: Vec<String> },
}

/// A document that passed: the operation's kind and its root fields, for the fake to answer.
#[derive(Debug, Clone)]
pub struct Checked {
    pub is_mutation: bool,
    pub document: Valid<ExecutableDocument>,
    pub operation_name: Option<String>,
}

static SHARED: OnceLock<Result<Arc<AdminSchema>, String>> = OnceLock::new();

impl AdminSchema {
    /// The schema at [`default_path`], read once per process (it takes a second or two).
    pub fn shared() -> anyhow::Result<Arc<AdminSchema>> {
        SHARED
            .get_or_init(|| Self::load(&default_path()).map(Arc::new).map_err(|e| format!("{e:#}")))
            .clone()
            .map_err(|e| anyhow!(e))
    }

    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let json: Value = serde_json::from_reader(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
            .with_context(|| format!("reading {}", path.display()))?;
        let introspection = json.pointer("/data/__schema").context("no data.__schema in the schema file")?;
        let sdl = to_sdl(introspection)?;
        let schema = Schema::parse_and_validate(sdl, "admin_2026-10.graphql")
            .map_err(|e| anyhow!("the schema does not build: {}", e.errors))?;
        let mut scopes = HashMap::new();
        for item in json.pointer("/offline_scopes/items").and_then(Value::as_array).into_iter().flatten() {
            let list: Vec<String> = item["offlineScopes"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            if list.is_empty() {
                continue;
            }
            let type_name = item["typeName"].as_str().unwrap_or_default().to_owned();
            let field = match item["type"].as_str() {
                Some("field") => item["fieldName"].as_str().unwrap_or_default().to_owned(),
                _ => String::new(),
            };
            scopes.insert((type_name, field), list);
        }
        Ok(Self { schema, scopes })
    }

    /// The scopes (any one of them) Shopify asks for `type_name.field` (`field` empty: the type).
    pub fn scopes_for(&self, type_name: &str, field: &str) -> Option<&[String]> {
        self.scopes.get(&(type_name.to_owned(), field.to_owned())).map(Vec::as_slice)
    }

    /// Checks a request as Shopify would, for a token holding `granted` scopes.
    pub fn check(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &Map<String, Value>,
        granted: &BTreeSet<String>,
    ) -> Result<Checked, Refusal> {
        let document = ExecutableDocument::parse_and_validate(&self.schema, query, "request.graphql")
            .map_err(|e| Refusal::Invalid(e.errors.iter().map(|d| d.error.to_string()).collect()))?;
        let operation = document.operations.get(operation_name).map_err(|_| {
            Refusal::Invalid(vec!["An operation name is required to pick one of several operations.".into()])
        })?;
        let json_variables: apollo_compiler::response::JsonMap =
            serde_json::from_value(Value::Object(variables.clone()))
                .map_err(|e| Refusal::Invalid(vec![e.to_string()]))?;
        apollo_compiler::request::coerce_variable_values(&self.schema, operation, &json_variables)
            .map_err(|e| Refusal::Invalid(vec![e.message().to_string()]))?;
        self.check_scopes(&document, &operation.selection_set, granted)?;
        let is_mutation = operation.operation_type == apollo_compiler::ast::OperationType::Mutation;
        Ok(Checked { is_mutation, operation_name: operation.name.as_ref().map(|n| n.to_string()), document })
    }

    fn check_scopes(
        &self,
        document: &ExecutableDocument,
        set: &SelectionSet,
        granted: &BTreeSet<String>,
    ) -> Result<(), Refusal> {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    let parent = set.ty.as_str();
                    let name = field.name.as_str();
                    let returns = field.definition.ty.inner_named_type().as_str();
                    for needed in [self.scopes_for(parent, name), self.scopes_for(returns, "")].into_iter().flatten() {
                        if !holds(granted, needed) {
                            return Err(Refusal::AccessDenied {
                                field: format!("{parent}.{name}"),
                                scopes: needed.to_vec(),
                            });
                        }
                    }
                    self.check_scopes(document, &field.selection_set, granted)?;
                }
                Selection::InlineFragment(inline) => self.check_scopes(document, &inline.selection_set, granted)?,
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                        self.check_scopes(document, &fragment.selection_set, granted)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One of `needed` is granted; a `write_` scope includes its `read_` (as on Shopify).
pub fn holds(granted: &BTreeSet<String>, needed: &[String]) -> bool {
    needed.iter().any(|scope| {
        granted.contains(scope)
            || scope.strip_prefix("read_").is_some_and(|rest| granted.contains(&format!("write_{rest}")))
    })
}

const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];
// `@oneOf` is not built into apollo-compiler, so the file's own definition is kept.
const BUILT_IN_DIRECTIVES: [&str; 4] = ["skip", "include", "deprecated", "specifiedBy"];

/// The introspection result as SDL (types, fields, arguments, defaults, directives).
pub fn to_sdl(schema: &Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let root = |key: &str| schema[key]["name"].as_str().map(str::to_owned);
    let _ = write!(out, "schema {{ query: {}", root("queryType").context("no query type")?);
    if let Some(mutation) = root("mutationType") {
        let _ = write!(out, " mutation: {mutation}");
    }
    if let Some(subscription) = root("subscriptionType") {
        let _ = write!(out, " subscription: {subscription}");
    }
    out.push_str(" }\n");
    for directive in schema["directives"].as_array().into_iter().flatten() {
        let name = directive["name"].as_str().unwrap_or_default();
        if BUILT_IN_DIRECTIVES.contains(&name) {
            continue;
        }
        let locations: Vec<&str> =
            directive["locations"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let repeatable = if directive["isRepeatable"].as_bool() == Some(true) { " repeatable" } else { "" };
        let _ =
            writeln!(out, "directive @{name}{}{repeatable} on {}", args(&directive["args"])?, locations.join(" | "));
    }
    for ty in schema["types"].as_array().context("no types")? {
        let name = ty["name"].as_str().context("a type without a name")?;
        if name.starts_with("__") || BUILT_IN_SCALARS.contains(&name) {
            continue;
        }
        let implements = |ty: &Value| {
            let names: Vec<&str> =
                ty["interfaces"].as_array().into_iter().flatten().filter_map(|i| i["name"].as_str()).collect();
            if names.is_empty() {
                String::new()
            } else {
                format!(" implements {}", names.join(" & "))
            }
        };
        match ty["kind"].as_str() {
            Some("SCALAR") => {
                let _ = writeln!(out, "scalar {name}");
            }
            Some(kind @ ("OBJECT" | "INTERFACE")) => {
                let keyword = if kind == "OBJECT" { "type" } else { "interface" };
                let _ = writeln!(out, "{keyword} {name}{} {{", implements(ty));
                for field in ty["fields"].as_array().into_iter().flatten() {
                    let field_name = field["name"].as_str().context("a field without a name")?;
                    let _ = writeln!(out, "  {field_name}{}: {}", args(&field["args"])?, type_ref(&field["type"])?);
                }
                out.push_str("}\n");
            }
            Some("UNION") => {
                let members: Vec<&str> =
                    ty["possibleTypes"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
                let _ = writeln!(out, "union {name} = {}", members.join(" | "));
            }
            Some("ENUM") => {
                let values: Vec<&str> =
                    ty["enumValues"].as_array().into_iter().flatten().filter_map(|v| v["name"].as_str()).collect();
                let _ = writeln!(out, "enum {name} {{ {} }}", values.join(" "));
            }
            Some("INPUT_OBJECT") => {
                let one_of = if ty["isOneOf"].as_bool() == Some(true) { " @oneOf" } else { "" };
                let _ = writeln!(out, "input {name}{one_of} {{");
                for field in ty["inputFields"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "  {}", input_value(field)?);
                }
                out.push_str("}\n");
            }
            other => return Err(anyhow!("type {name} has an unknown kind {other:?}")),
        }
    }
    Ok(out)
}

fn args(list: &Value) -> anyhow::Result<String> {
    let items: Vec<String> = list.as_array().into_iter().flatten().map(input_value).collect::<anyhow::Result<_>>()?;
    Ok(if items.is_empty() { String::new() } else { format!("({})", items.join(", ")) })
}

fn input_value(value: &Value) -> anyhow::Result<String> {
    let name = value["name"].as_str().context("an argument without a name")?;
    let default = match value["defaultValue"].as_str() {
        Some(d) => format!(" = {d}"),
        None => String::new(),
    };
    Ok(format!("{name}: {}{default}", type_ref(&value["type"])?))
}

fn type_ref(ty: &Value) -> anyhow::Result<String> {
    match ty["kind"].as_str() {
        Some("NON_NULL") => Ok(format!("{}!", type_ref(&ty["ofType"])?)),
        Some("LIST") => Ok(format!("[{}]", type_ref(&ty["ofType"])?)),
        _ => ty["name"].as_str().map(str::to_owned).context("a type reference without a name"),
    }
}
