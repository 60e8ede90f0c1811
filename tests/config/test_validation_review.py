"""Configuration that used to be saved and only failed (or lost data) when a job ran is refused at save time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from msgspec import structs

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import (
    ChildSource,
    Credential,
    Element,
    FieldMapping,
    Integration,
    Source,
)
from payloads_tui.domain.validation import validate_integration
from payloads_tui.store.demo import demo_integration
from tests.config.conftest import BASIC_CREDENTIAL, CREATE_CUSTOMER, Env, stripe_integration


def fake_encrypt(_plaintext: str) -> str:
    return "enc:not-a-real-token"


def integration() -> Integration:
    return stripe_integration(fake_encrypt)


def refused(changed: Integration) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_integration(changed)
    return caught.value


def with_outbound(**changes: object) -> Integration:
    """The fixture with its first outbound payload (form, POST, per record) changed."""
    i = integration()
    i.outbound[0] = structs.replace(i.outbound[0], **changes)
    return i


def with_credential(credential: Credential) -> Integration:
    i = integration()
    i.credentials.append(credential)
    return i


def oauth(**fields: str) -> Credential:
    return Credential(name="OAuth", kind="oauth2", fields={"grant": "client_credentials", "client_id": "c",
                                                           "token_url": "https://auth.example.com/token", **fields})


# --- what stays accepted ---------------------------------------------------------------


def test_the_fixture_and_the_demo_still_pass() -> None:
    validate_integration(integration())
    validate_integration(demo_integration(fake_encrypt))


@pytest.mark.parametrize(
    "endpoint",
    [
        "{base_url}/v1/customers",
        "{base}/things",
        "https://api.stripe.com/v1/customers/{account.stripe_id}",
        "HTTPS://API.example.com",
        "https://{host}/v1",
        "http{secure}://api.example.com/v1",
        "{base_url}/x/{concat(a, ' ', b)}",
        "https://api.example.com/v1/{{literal}}",
    ],
)
def test_endpoints_that_can_become_urls_pass(endpoint: str) -> None:
    validate_integration(with_outbound(endpoint=endpoint))


def test_id_stays_mappable_and_accepted_credentials_pass() -> None:
    i = integration()
    i.inbound[0].targets[0].mappings.append(FieldMapping(field="id", expression="id"))
    i.credentials += [
        oauth(expires_at="1767225600"),
        Credential(name="OAuth 2", kind="oauth2", fields={"grant": "refresh_token", "token_url": "http://127.0.0.1:9/t"}),
        Credential(name="Key", kind="api_key", fields={"placement": "header", "name": "X-Api-Key"}),
        Credential(name="Key 2", kind="api_key", fields={"placement": "query", "name": "api key"}),
        Credential(name="No name yet", kind="api_key", fields={"placement": "header"}),
        Credential(name="Bearer without its token (an imported bundle)", kind="bearer"),
    ]
    validate_integration(i)


def test_form_keys_outside_form_bodies_are_left_alone() -> None:
    json_post = with_outbound(content_type="json", elements=[Element(path="metadata[local_id]", expression="id")])
    validate_integration(json_post)
    query = with_outbound(elements=[Element(path="metadata[local_id]", placement="query", expression="id")])
    validate_integration(query)


# --- 1. fields the record store sets ---------------------------------------------------


@pytest.mark.parametrize(("field", "instead"), [("created_at", "source_created"), ("updated_at", "source_updated")])
def test_a_mapping_to_a_field_the_store_sets_is_refused(field: str, instead: str) -> None:
    i = integration()
    i.inbound[0].targets[1].mappings.append(FieldMapping(field=field, expression="created"))
    error = refused(i)
    assert error.field == "inbound[0].targets[1].mappings[3].field"
    assert error.reason == (
        f"{field!r} is set by the record store on every write, so a mapped value would be replaced; "
        f"map it to another field (e.g. {instead!r})"
    )


# --- 2. header names and values --------------------------------------------------------


@pytest.mark.parametrize("name", ["Bad Header:", "Bad Header", "X-Idempotency:Key", "", "Ünicode"])
def test_a_header_name_that_is_not_an_http_token_is_refused(name: str) -> None:
    error = refused(with_outbound(headers={"Stripe-Version": "2024-06-20", name: "x"}))
    assert error.field == f"outbound[0].headers.{name}"
    assert error.reason == (
        f"{name!r} is not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ only (no spaces, no ':')"
    )


def test_a_header_element_with_a_bad_name_is_refused() -> None:
    elements = [Element(path="name", expression="name"), Element(path="X Local Id", placement="header", expression="id")]
    error = refused(with_outbound(elements=elements))
    assert error.field == "outbound[0].elements[1].path"
    assert "'X Local Id' is not a valid header name" in error.reason


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "two\nlines", "nul\0"])
def test_a_header_value_with_a_line_break_is_refused(value: str) -> None:
    error = refused(with_outbound(headers={"Stripe-Version": value}))
    assert error.field == "outbound[0].headers.Stripe-Version"
    assert error.reason == (
        "the value of header 'Stripe-Version' holds a line break (CR or LF) or a NUL; a header value is one line"
    )
    static = [Element(path="X-Note", placement="header", source="static", value=value)]
    assert refused(with_outbound(elements=static)).field == "outbound[0].elements[0].value"


def test_an_api_key_header_name_is_checked() -> None:
    error = refused(with_credential(Credential(name="Key", kind="api_key", fields={"placement": "header",
                                                                                    "name": "X Api Key"})))
    assert error.field == "credentials[2].fields.name"
    assert "'X Api Key' is not a valid header name" in error.reason


# --- 3. form keys ----------------------------------------------------------------------


def test_a_form_element_path_with_brackets_is_refused() -> None:
    error = refused(with_outbound(elements=[Element(path="metadata[local_id]", expression="id")]))
    assert error.field == "outbound[0].elements[0].path"
    assert error.reason == (
        "'metadata[local_id]' cannot be a form key: the form encoder writes '[' and ']' itself; "
        "write nesting with dots, 'metadata.local_id', which the form sends as metadata[local_id]"
    )


def test_form_keys_are_checked_inside_arrays_and_for_bodyless_methods() -> None:
    items = [Element(path="lines", each="accounts", elements=[Element(path="price[amount]", expression="total")])]
    error = refused(with_outbound(elements=items))
    assert error.field == "outbound[0].elements[0].elements[0].path"
    assert "write nesting with dots, 'price.amount'" in error.reason

    error = refused(with_outbound(content_type="json", method="GET", elements=[Element(path="tags[]", expression="t")]))
    assert error.field == "outbound[0].elements[0].path"
    assert error.reason == (
        "'tags[]' cannot be a form key: the form encoder writes '[' and ']' itself; write nesting with dots "
        "(e.g. 'metadata.order_id') and a list as an array element (a GET sends its body elements as form "
        "query parameters)"
    )


def test_a_form_element_path_with_an_empty_name_is_refused() -> None:
    error = refused(with_outbound(elements=[Element(path="metadata..id", expression="id")]))
    assert error.field == "outbound[0].elements[0].path"
    assert error.reason == (
        "'metadata..id' has an empty name: a form key needs a name between every two dots (e.g. 'metadata.order_id')"
    )


# --- 4. endpoints ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("not a url", "endpoint 'not a url' is not a URL: start it with http:// or https://"),
        ("api.stripe.com/v1/customers", "endpoint 'api.stripe.com/v1/customers' is not a URL: start it with "
                                        "http:// or https://"),
        ("/v1/{id}", "endpoint '/v1/{id}' is not a URL: start it with http:// or https://, or with a variable "
                     "that holds the start (e.g. {base_url}/v1/customers)"),
        ("{{base_url}}/v1", "endpoint '{{base_url}}/v1' is not a URL: start it with http:// or https://; "
                            "'{{' is a literal brace: a merge field takes single braces, as in {base_url}/v1/customers"),
        ("ftp://files.example.com/{name}", "endpoint 'ftp://files.example.com/{name}' is not an http(s) URL "
                                           "(its scheme is 'ftp'); only http:// and https:// are sent"),
        ("https:///v1/customers", "endpoint 'https:///v1/customers' names no host after https://"),
        ("https://api.stripe.com/v1/my customers", "endpoint 'https://api.stripe.com/v1/my customers' holds a "
                                                   "space; a URL holds none (write a space as %20)"),
        ("{base_url}/v1/{id} x", "endpoint '{base_url}/v1/{id} x' holds a space outside its merge fields; a URL "
                                 "holds none (write a space as %20)"),
    ],
)
def test_an_endpoint_that_can_never_be_an_http_url_is_refused(endpoint: str, reason: str) -> None:
    error = refused(with_outbound(endpoint=endpoint))
    assert error.field == "outbound[0].endpoint"
    assert error.reason == reason


# --- 5. credentials --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token_url", "reason"),
    [
        ("auth.example.com/token", "token URL 'auth.example.com/token' is not a URL: start it with http:// or https://"),
        ("ftp://auth.example.com/token", "token URL 'ftp://auth.example.com/token' is not an http(s) URL "
                                         "(its scheme is 'ftp'); only http:// and https:// are sent"),
        ("https://", "token URL 'https://' names no host after https://"),
        ("https://auth.example.com/oauth token", "token URL 'https://auth.example.com/oauth token' holds a space; "
                                                 "a URL holds none (write a space as %20)"),
    ],
)
def test_an_oauth_token_url_that_is_not_an_http_url_is_refused(token_url: str, reason: str) -> None:
    error = refused(with_credential(oauth(token_url=token_url)))
    assert error.field == "credentials[2].fields.token_url"
    assert error.reason == reason


@pytest.mark.parametrize("expires_at", ["tomorrow", "2026-12-01T10:00:00Z", "nan", "inf", "-5"])
def test_an_oauth_expiry_that_is_not_a_time_is_refused(expires_at: str) -> None:
    error = refused(with_credential(oauth(expires_at=expires_at)))
    assert error.field == "credentials[2].fields.expires_at"
    assert error.reason == (
        f"expires_at {expires_at!r} is not a time: write it in epoch seconds (e.g. 1767225600), "
        "or leave it empty when unknown"
    )


@pytest.mark.parametrize("fields", [{}, {"username": ""}, {"username": "  "}])
def test_basic_credentials_need_a_username(fields: dict[str, str]) -> None:
    i = integration()
    i.credentials[1] = structs.replace(i.credentials[1], fields=fields)
    assert i.credentials[1].name == BASIC_CREDENTIAL
    error = refused(i)
    assert error.field == "credentials[1].fields.username"
    assert error.reason == "basic credentials need a username"


# --- 7. source limits ------------------------------------------------------------------


@pytest.mark.parametrize("limit", [2.5, "10", True])
def test_a_limit_that_is_not_a_whole_number_is_refused(limit: object) -> None:
    i = with_outbound(sources=[Source(name="accounts", object="Account", limit=limit)])  # type: ignore[arg-type]
    error = refused(i)
    assert error.field == "outbound[0].sources[0].limit"
    assert error.reason == f"limit must be a whole number of 1 or more (or none), not {limit!r}"
    child = ChildSource(name="lines", object="OrderLine", parent_field="order_id", limit=limit)  # type: ignore[arg-type]
    i = with_outbound(sources=[Source(name="accounts", object="Account", children=[child])])
    assert refused(i).field == "outbound[0].sources[0].children[0].limit"


# --- through the store -----------------------------------------------------------------


def test_the_store_refuses_them_and_writes_nothing(env: Env, stored: Integration) -> None:
    before = env.config.get("stripe")
    changes: list[Callable[[Integration], None]] = [
        lambda i: i.inbound[0].targets[0].mappings.append(FieldMapping(field="created_at", expression="created")),
        lambda i: i.outbound[0].headers.update({"Bad Header:": "x"}),
        lambda i: i.outbound[0].elements.append(Element(path="metadata[local_id]", expression="id")),
        lambda i: setattr(i.outbound[0], "endpoint", "not a url"),
    ]
    for change in changes:
        candidate = env.config.get("stripe")
        change(candidate)
        with pytest.raises(ValidationError):
            env.config.save(candidate)
    assert env.config.get("stripe") == before
    assert next(p for p in before.outbound if p.name == CREATE_CUSTOMER).content_type == "form"



@pytest.mark.parametrize(("path", "says"), [
    ("hooks//stripe", "it has an empty part ('//')"),
    ("hooks/stripe/", "it ends with '/'"),
    ("Hooks", "it must start with a lowercase letter or a digit"),
    ("hooks/Stripe Events", "' ', 'E', 'S' not allowed"),
    ("", "give one"),
])
def test_an_api_path_says_what_is_wrong_with_it(path: str, says: str) -> None:
    i = integration()
    i.apis[0].path = path
    error = refused(i)
    assert error.field == "apis[0].path" and says in error.reason
