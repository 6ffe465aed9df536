"""One settings object for every component, validated when it is loaded.

Values come, lowest precedence first, from the defaults below, a TOML file (`QA_CONFIG` or
`./qa.toml`), environment variables `QA_<FIELD>` (upper case) and explicit overrides (CLI flags).
pydantic-settings does the parsing, so a wrong type or an unknown value is caught at load, before
any model is loaded, and reported as one line that names the variable or the file it came from.
Closed sets are enums: a typo in `QA_FUSION_METHOD` is an error, not a silent fallback.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from qa.core.errors import ConfigError
from qa.core.paths import DATA_DIR, MODELS_DIR, cache_dir
from qa.core.text import SURROGATE

ENV_PREFIX = "QA_"


class FusionMethod(StrEnum):
    """How dense and BM25 rankings become one: weighted sum of min-max normalised scores, or
    weighted reciprocal rank."""

    CONVEX = "convex"
    RRF = "rrf"


class SpanBackend(StrEnum):
    """Runtime of the span reader and of the encoder: `auto` is ONNX Runtime int8 on a CPU (a copy
    built into the cache on first use) and PyTorch on a GPU; or one of them forced."""

    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    ONNX_FP32 = "onnx-fp32"


class Device(StrEnum):
    """Where models run; `auto` takes a GPU when one is present."""

    CPU = "cpu"
    CUDA = "cuda"
    AUTO = "auto"


class LogLevel(StrEnum):
    """How much the API server logs: `info` has a line per request (the access log) beside the
    warnings; `debug` more of the sources' own."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class RouteChoice(StrEnum):
    """Which source `qa ask` consults: the router's choice, or one source forced."""

    AUTO = "auto"
    WEBQA = "webqa"
    KBQA = "kbqa"
    CQA = "cqa"


# the settings that name a file or folder: `~` is expanded, and one a settings file names relative
# to itself is read from beside that file
PATH_SETTINGS = ("span_model", "choice_model", "index_dir", "data_dir", "kb_graph", "kb_scorer", "cqa_store",
                 "cqa_judge_model", "cqa_question_judge_model")

# Defaults under the cache are fixed when this module is imported (pydantic fields take values);
# the settings table shows them relative to this same folder.
_CACHE = cache_dir()

_TOML: ContextVar[dict[str, Any] | None] = ContextVar("qa_settings_toml", default=None)
_LOADING: ContextVar[bool] = ContextVar("qa_settings_loading", default=False)


# settings that are sent or compared as text (paths may hold any bytes the file system allows);
# kb_endpoint is checked whole by `check_endpoint`
_TEXT_ONLY = ("api_key", "api_host", "api_url")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False, validate_default=True,
        env_ignore_empty=False, allow_inf_nan=False,  # a NaN threshold or an infinite timeout is a typo
        validate_assignment=True,  # `settings.top_k = 0` in a caller's code fails there, not in a later request
    )

    # models
    encoder_model: str = Field("", description="Sentence encoder folder; empty: the packaged all-MiniLM-L6-v2.")
    span_model: str = Field(str(MODELS_DIR / "span-minilm-l6"), description="Span reader folder (HF layout).")
    choice_model: str = Field(str(MODELS_DIR / "choice-minilm-l6"), description="Multiple-choice reader folder.")
    device: Device = Field(Device.CPU, description="Where the readers and the encoder run: cpu, cuda, or auto "
                                                   "(a GPU when there is one).")
    span_backend: SpanBackend = Field(
        SpanBackend.AUTO, description="Runtime of the readers: auto (int8 ONNX on CPU), onnx, onnx-fp32 or torch.")
    encoder_backend: SpanBackend = Field(SpanBackend.AUTO, description="Runtime of the sentence encoder.")
    # storage
    index_dir: str = Field(
        str(_CACHE / "collections"),
        description="Your collections: `qa index PATH` adds one folder here; `qa ask` searches them all.",
    )
    include_default: bool = Field(True, description="Also answer from the embedded default collection.")
    data_dir: str = Field(str(DATA_DIR), description="Where the router, the passage calibration and the graph "
                          "scorer are read from (`router/`, `calibration/`, `kb/`; the shipped ones where it has none "
                          "yet); `qa train router` and "
                          "`qa train calibrate-webqa` write there. The models and the default index stay in the "
                          "package's data.")
    # retrieval
    top_k: int = Field(3, ge=1, le=100, description="Answers returned per question (1 to 100) by `qa ask`, `qa kbqa`, "
                       "`qa cqa ask` and the API; a request's own `top_k` goes up to 20, as does `qa chat -k`.")
    retrieve_k: int = Field(100, ge=1, le=1000, description="Passages each retriever (dense, BM25) proposes "
                            "to fusion; the reader reads the best read_k of them.")
    read_k: int = Field(8, ge=1, le=100, description="Passages the reader reads per question.")
    # fusion tuned on SQuAD v1.0 *training* questions (benchmarks/squad_open.py --tune), not dev
    fusion_method: FusionMethod = Field(
        FusionMethod.CONVEX, description="How dense and BM25 results merge: convex (weighted scores) or rrf.")
    fusion_weight_dense: float = Field(0.55, ge=0.0, le=1000.0,
                                      description="Weight of the dense score (convex fusion).")
    fusion_weight_bm25: float = Field(0.45, ge=0.0, le=1000.0,
                                     description="Weight of the BM25 score (convex fusion).")
    fusion_k: int = Field(60, ge=1, le=1_000_000, description="The k of reciprocal rank fusion (rrf).")
    chunk_chars: int = Field(1200, ge=100, le=1_000_000,
                             description="`qa index` cuts documents into passages this long.")
    chunk_overlap: int = Field(200, ge=0, le=1_000_000, description="Characters consecutive passages share.")
    # readers
    max_seq_length: int = Field(384, ge=16, le=4096,
                                description="Reader window in word pieces (the model's own wins unless set).")
    doc_stride: int = Field(128, ge=0, le=4096, description="Overlap of consecutive reader windows in word pieces.")
    max_answer_length: int = Field(30, ge=1, le=4096, description="Longest span the reader returns, in word pieces.")
    n_best: int = Field(20, ge=1, le=1000, description="Start and end candidates the reader combines per window.")
    null_threshold: float | None = Field(None, description="None: the threshold stored with the model.")
    batch_size: int = Field(32, ge=1, le=4096, description="Reader and encoder batch size.")
    # knowledge graph
    kb_graph: str = Field("", description="Turtle, N-Triples, RDF/XML, JSON-LD or TSV file; "
                                          "empty: the embedded world graph.")
    kb_endpoint: str = Field("", description="A SPARQL 1.1 endpoint URL; overrides kb_graph when set.")
    kb_timeout_s: float = Field(10.0, gt=0, le=86_400, description="Longest a SPARQL query may run (all the "
                                 "queries of one question to an endpoint: twice that).")
    kb_max_hops: int = Field(3, ge=1, le=4, description="Longest relation path walked from a linked entity.")
    kb_top_anchors: int = Field(3, ge=1, le=20, description="Linked entities paths are walked from.")
    kb_min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Abstain below this; None: the threshold calibrated with the scorer."
    )
    kb_scorer: str = Field("", description="A path scorer (JSON); empty: the one trained for the graph.")
    kb_index_max_age_h: float = Field(
        24.0, ge=0, le=1_000_000, description="An endpoint's label index (the names questions are linked by) is "
        "rebuilt once older than this many hours, as the endpoint's data may change; 0: at every start. A graph "
        "file's index is keyed by the file's content and never goes stale.")
    # community QA (answered questions)
    cqa_store: str = Field(str(_CACHE / "cqa" / "threads.sqlite"),
                           description="The thread store (SQLite); `qa cqa import` and accepted answers fill it.")
    cqa_seed: bool = Field(True, description="Seed a new, empty thread store with the packaged answered questions.")
    cqa_min_score: float = Field(
        0.5, ge=0.0, le=1.0, description="Below this probability the matched thread is shown as a best guess."
    )
    cqa_candidates: int = Field(10, ge=1, le=100, description="Threads the re-scorer compares per question.")
    cqa_judge_model: str = Field(str(MODELS_DIR / "judge-minilm-l6"),
                                 description="The answer judge (ranks a thread's answers); empty: rank without it.")
    cqa_question_judge_model: str = Field(
        str(MODELS_DIR / "question-judge-minilm-l6"),
        description="The question judge (whether two one-line questions ask the same, for FAQ entries); "
        "empty: match them by the re-scorer alone.")
    # router
    route: RouteChoice = Field(RouteChoice.AUTO, description="auto (the router decides), webqa, kbqa or cqa.")
    router_min_score: float = Field(
        0.5, ge=0.0, le=1.0, description="The cascade asks the next source while the best score is below this."
    )
    router_skip_below: float = Field(
        0.05, ge=0.0, le=1.0,
        description="The cascade does not ask a source the classifier gives less than this, once one answered; "
                    "such a source's answer under router_min_score counts as a guess.",
    )
    # API
    api_key: str = Field("", description="When set, writes (documents, threads, eval jobs) need it in X-API-Key.")
    api_key_for_reads: bool = Field(False, description="Also require the API key for questions and reads.")
    max_question_chars: int = Field(2_000, ge=1, le=100_000,
                                    description="Longer questions are refused (CLI exit 2, HTTP 400; the API's "
                                    "schema caps them at 2,000 whatever this says).")
    request_timeout_s: float = Field(30.0, gt=0, le=86_400, description="An API request running longer gets 504.")
    api_host: str = Field("127.0.0.1", min_length=1, pattern=r"\S",
                          description="Address `qa serve` listens on (loopback: this machine only).")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the REST API.")
    api_allowed_hosts: str = Field("", description="Other names the API is reached by (comma-separated, such as "
                                   "a reverse proxy's qa.example.org): while it listens on loopback, a request "
                                   "naming another host is refused, as a web page's would be that reached it "
                                   "through DNS rebinding.")
    ui_port: int = Field(8501, ge=1, le=65535, description="Port of the chat UI.")
    api_url: str = Field("", description="The API the UI talks to; empty: http://<api_host>:<api_port>.")
    api_workers: int = Field(4, ge=1, le=64, description="Requests worked on at once; reader work of all of them "
                             "goes through one batching thread, so graph questions need not wait behind passages.")
    api_queue: int = Field(16, ge=0, le=10_000, description="Requests that may wait; beyond this: 503.")
    api_queue_timeout_s: float = Field(10.0, gt=0, le=86_400,
                                       description="A request waits this long for a worker, then 503.")
    api_batch_window_ms: float = Field(3.0, ge=0, le=1000, description="Reader work of concurrent requests "
                                       "arriving within this window is read in one call on a GPU (on a CPU each "
                                       "request alone: the same scores as `qa ask`).")
    api_load_choice_reader: bool = Field(True, description="Load the multiple-choice reader when the API starts, "
                                         "so /v1/read with options answers at once (it runs on PyTorch: the server "
                                         "holds about 400 MB more); false: it loads on the first such request.")
    api_max_body_mb: float = Field(20.0, gt=0, le=1024, description="Largest request body (uploads included).")
    api_body_timeout_s: float = Field(60.0, gt=0, le=3600, description="A request body must arrive whole within "
                                      "this long, else 408 (a client trickling a large body holds memory).")
    api_max_connections: int = Field(256, ge=1, le=100_000, description="Open connections the server keeps; "
                                     "beyond this: 503 (each may hold a body of up to api_max_body_mb).")
    api_header_timeout_s: float = Field(10.0, gt=0, le=3600, description="A connection whose request head has not "
                                        "arrived this long after it opened (or after its last answer) is closed.")
    api_log_level: LogLevel = Field(LogLevel.INFO, description="What the API server logs (to standard error, a line "
                                    "each, UTC time first): debug, info (a line per request with its X-Request-ID), "
                                    "warning (problems only) or error.")

    @field_validator("*", mode="before")
    @classmethod
    def _no_truth_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # the settings file gives typed values: `top_k = true` was taken as 1, `include_default = 0` as false
        is_bool = cls.model_fields[info.field_name or ""].annotation in (bool, "bool")
        if isinstance(value, bool) and not is_bool:
            raise ValueError("is true or false; give a value of the setting's own kind")
        if is_bool and isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("is a number; give true or false")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        # an operator writes the level as Python's logging does (`INFO`) or a word as a shell habit
        # capitalises it; the choices are closed sets of lower-case words, so the case carries nothing
        kind = cls.model_fields[info.field_name or ""].annotation
        if isinstance(kind, type) and issubclass(kind, Enum) and isinstance(value, str):
            return value.strip().lower()
        return value

    @field_validator("null_threshold", "kb_min_confidence", mode="before")
    @classmethod
    def _unset(cls, value: Any) -> Any:
        # `qa config` shows these as "none"; the same word (or nothing) in QA_* or the TOML file unsets them
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
            return None
        return value

    @field_validator(*PATH_SETTINGS)
    @classmethod
    def _home(cls, value: str) -> str:
        """`~/graphs/company.ttl` names the same file to every component (a graph's loader took it
        as a folder named "~" while the start-up check expanded it)."""
        return os.path.expanduser(value) if value.startswith("~") else value

    @field_validator("cqa_store")
    @classmethod
    def _store_path(cls, value: str) -> str:
        if not value.strip():  # "." (the working folder) would be read, and refused as a folder
            raise ValueError("is empty: give the path of the thread store's .sqlite file")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_folder(cls, value: str) -> str:
        # a typo fell back, without a word, to an untrained graph scorer and router
        if not Path(value).expanduser().is_dir():
            raise ValueError(f"{value} is not a folder: give a folder holding router/, calibration/ and kb/ "
                             "(the shipped data/ by default)")
        return value

    @field_validator("index_dir")
    @classmethod
    def _index_folder(cls, value: str) -> str:
        if not value.strip():  # the working folder, where the API's start-up tidying would look
            raise ValueError("is empty: give the folder that holds your passage collections")
        return value

    @field_validator("api_key")
    @classmethod
    def _sendable_key(cls, value: str) -> str:
        # an HTTP header carries printable ASCII, trimmed of spaces: any other key can never match
        if SURROGATE.search(value):
            raise ValueError("is not valid UTF-8 text")
        if value and (value != value.strip() or not all(" " <= c <= "~" for c in value)):
            raise ValueError("must be printable ASCII without spaces at either end (it travels in an HTTP header)")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_address(cls, value: str) -> str:
        if value:
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(value)
                _ = parts.port
            except ValueError as exc:  # the value itself is in the line's head, its password masked
                raise ValueError(f"not a URL ({exc})") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// address with a host")
        return value

    @field_validator("kb_endpoint")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        return check_endpoint(value) if value else value

    def __init__(self, **values: Any) -> None:
        """Built directly (`Settings(top_k=5)`, from Python), a bad value is a `ConfigError` as from
        `load`: pydantic's own error escaped a caller's `except QAError`."""
        if _LOADING.get():
            super().__init__(**values)  # `load` says where the bad value came from
            return
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc, Path("qa.toml"), {}, values, {})) from None

    def __setattr__(self, name: str, value: Any) -> None:
        """A setting changed on the object is checked first on a copy: pydantic assigns the value
        and then runs the checks across settings (`_consistent`), so a value they refuse
        (`chunk_overlap` past `chunk_chars`) stayed, raising, in the caller's object."""
        if name in type(self).model_fields:
            try:
                BaseSettings.__setattr__(self.model_copy(), name, value)  # raises; this object untouched
            except ValidationError as exc:
                raise ConfigError(_one_line(exc, Path("qa.toml"), {}, {name: value}, {})) from None
        super().__setattr__(name, value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        for name in _TEXT_ONLY:
            # undecodable bytes in the environment arrive as lone surrogates (PEP 383): a key or URL
            # holding them can never be sent (a 500 at the first request, a traceback at the first query)
            if SURROGATE.search(getattr(self, name)):
                raise ValueError(f"{name} is not valid UTF-8 text")
        if self.api_key_for_reads and not self.api_key:  # would leave reads open while saying they are closed
            raise ValueError("api_key_for_reads needs api_key (QA_API_KEY) to be set")
        if self.chunk_overlap >= self.chunk_chars:
            raise ValueError("chunk_overlap must be smaller than chunk_chars")
        if Path(self.index_dir).expanduser().is_file():  # found now, not at the first upload (a 500)
            raise ValueError(f"index_dir {self.index_dir} is a file: it must be a folder (or not exist yet)")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=_TOML.get() or {}))

    @classmethod
    def load(cls, path: str | Path | None = None, *, flags: Mapping[str, str] | None = None,
             **overrides: Any) -> Settings:
        """Settings from the TOML file, the environment and `overrides` (None values are ignored).
        `flags` names the command-line option each override came from, so a bad value is refused
        under the name the user typed (`--timeout`), not the setting's (`kb_timeout_s`)."""
        cfg = _config_path(path)
        values: dict[str, Any] = {}
        if cfg.is_file():
            try:
                values = tomllib.loads(cfg.read_text(encoding="utf-8-sig"))  # as Notepad saves it
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"settings file {cfg} is not valid TOML: {exc}") from exc
            except RecursionError:  # arrays in arrays past the parser's depth: no settings file writes that
                raise ConfigError(f"settings file {cfg} is not valid TOML: nested too deeply") from None
            unknown = sorted(set(values) - set(cls.model_fields))
            if unknown:
                raise ConfigError(f"unknown settings in {cfg}: "
                                  f"{', '.join(_with_hint(k, values[k], cls.model_fields) for k in unknown)}")
            for name in PATH_SETTINGS:  # a path the file names relative to itself, wherever qa runs
                value = values.get(name)
                if (isinstance(value, str) and value.strip() and not value.startswith("~")
                        and not Path(value).is_absolute() and cfg.parent != Path(".")):
                    values[name] = str(cfg.parent / value)
        elif path or os.environ.get("QA_CONFIG"):
            if cfg.is_dir():
                raise ConfigError(f"the settings file {cfg} is a folder: give the path of a TOML file")
            if cfg.exists():  # a pipe or a device: "not found" sent the user looking for a file that is there
                raise ConfigError(f"the settings file {cfg} is not a regular file (a device or a pipe)")
            if cfg.is_symlink():
                raise ConfigError(f"the settings file {cfg} is a link that leads nowhere (or in a circle)")
            raise ConfigError(f"settings file not found: {cfg}")
        _warn_unknown_environment(cls.model_fields)
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("kb_graph") and "kb_endpoint" not in given:
            given["kb_endpoint"] = ""  # a graph named on the command line beats an endpoint from elsewhere
        token, loading = _TOML.set(values), _LOADING.set(True)
        try:
            settings = cls(**given)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc, cfg, values, given, flags or {})) from None
        finally:
            _TOML.reset(token)
            _LOADING.reset(loading)
        _warn_empty_data_dir(settings)
        return settings

    def __repr_args__(self) -> Any:
        # shown in a notebook, a log line or a traceback as `qa config` shows it: the API key and a
        # URL's password masked (`model_dump()` still gives them, for a caller who needs them)
        for name, value in super().__repr_args__():
            yield name, unsecret(name, value) if name else value

    def explicitly_set(self, name: str) -> bool:
        """Whether `name` came from the user (file, environment, override) rather than a default;
        components use it to let a model's own sidecar values win over our defaults."""
        return name in self.model_fields_set


def loopback(host: str) -> bool:
    """Whether only this machine can reach an address (a name other than localhost may be anything)."""
    import ipaddress
    import socket

    host = host.strip("[]").lower().rstrip(".")  # "localhost." is the same name, fully qualified
    if host == "localhost":
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:  # "127.1", a shorthand the C library (and so every client) reads as 127.0.0.1
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool(mapped.is_loopback if mapped is not None else ip.is_loopback)


def http_url(host: str, port: int) -> str:
    """The address of a server listening on `host`: an IPv6 address goes in brackets (http://[::1]:8000)."""
    return f"http://[{host}]:{port}" if ":" in host and not host.startswith("[") else f"http://{host}:{port}"


def check_endpoint(url: str) -> str:
    """`url` if it can be sent to as a SPARQL endpoint, else a `ValueError` saying why: found at
    load, not as a traceback from the first query, or from the label index's folder name (a hash
    of the URL). Undecodable command-line or environment bytes arrive as lone surrogates, which no
    URL can carry; HTTP cannot send a space or a control character; urllib only fails on a bad port
    or bracket once it connects."""
    if SURROGATE.search(url):
        raise ValueError("the SPARQL endpoint URL is not valid UTF-8 text")
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise ValueError("the SPARQL endpoint URL holds a space or a control character; write a space as %20")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise ValueError(f"the SPARQL endpoint is not a URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:  # urlsplit lowers the scheme
        raise ValueError("the SPARQL endpoint must be an http(s) URL with a host, such as "
                         "http://127.0.0.1:7878/query")
    return url


def _with_hint(key: str, value: Any, fields: Any) -> str:
    """An unknown key of the settings file with the setting it most likely meant: a misspelling
    (`kb_timout_s`), or a table (`[kb]` holding `timeout_s`) for settings that are flat names."""
    import difflib

    if isinstance(value, dict):
        flat = [f"{key}_{sub}" for sub in value if f"{key}_{sub}" in fields]
        if flat:
            return f"[{key}] (settings are top-level names: write {' and '.join(f'{f} = ...' for f in flat)})"
        return f"[{key}] (settings are top-level names, not tables)"
    close = difflib.get_close_matches(key, sorted(fields), n=1)
    return f"{key} (did you mean {close[0]}?)" if close else key


# QA_ variables that are not settings: the settings file, the address the chat UI calls and the key
# an operator lends it, and the browser the UI's tests drive and where they save a screenshot
_OTHER_ENV = {"CONFIG", "API_URL", "UI_API_KEY", "CHROMIUM", "UI_SCREENSHOT"}
_warned: set[str] = set()


def _warn_unknown_environment(fields: Any) -> None:
    """A misspelt variable (`QA_TOPK`) would be ignored without a word, unlike a misspelt key in
    the settings file (refused): it is named once, with the setting it most likely meant."""
    import difflib
    import logging

    names = {f.upper() for f in fields} | _OTHER_ENV
    for key in os.environ:
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX.upper()) or upper[len(ENV_PREFIX):] in names or upper in _warned:
            continue
        _warned.add(upper)
        close = difflib.get_close_matches(upper[len(ENV_PREFIX):], sorted(names), n=1)
        hint = f"; did you mean {ENV_PREFIX.upper()}{close[0]}?" if close else ""
        logging.getLogger("qa.settings").warning("%s is not a setting and is ignored%s", key, hint)


def _warn_empty_data_dir(settings: Settings) -> None:
    """A `data_dir` of the user's that holds none of what is read from it answers with the shipped
    router, calibration and graph scorer: said once, as a misspelt variable is (it may be a folder
    `qa train` is about to fill, so it is not refused)."""
    import logging

    folder = Path(settings.data_dir).expanduser()
    if not settings.explicitly_set("data_dir") or str(folder) in _warned:
        return
    if not any((folder / sub).exists() for sub in ("router", "calibration", "kb")):
        _warned.add(str(folder))
        logging.getLogger("qa.settings").warning(
            "data_dir %s holds no router/, calibration/ or kb/: the shipped router, passage calibration and "
            "graph scorer are used until `qa train` writes them there", folder)


def _config_path(path: str | Path | None) -> Path:
    return Path(path) if path else Path(os.environ.get("QA_CONFIG") or "qa.toml")


def origins(settings: Settings, path: str | Path | None = None) -> dict[str, str]:
    """Where each setting's value came from: 'default', 'environment' (QA_<NAME>), the settings
    file, or 'override' (a CLI flag), checked in the precedence order of `Settings.load`."""
    env = {k.upper() for k in os.environ}
    cfg = _config_path(path)
    try:
        in_file = set(tomllib.loads(cfg.read_text(encoding="utf-8-sig"))) if cfg.is_file() else set()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        in_file = set()
    out = {}
    for name in Settings.model_fields:
        if not settings.explicitly_set(name):
            out[name] = "default"
        elif f"{ENV_PREFIX}{name.upper()}" in env:
            out[name] = "environment"
        else:
            out[name] = str(cfg) if name in in_file else "override"
    return out


def _shown(value: Any) -> str:
    """A value as the settings table shows it: paths relative to the shipped data or the cache."""
    if value is None:
        return "none"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    for prefix, shown in ((str(DATA_DIR), "data"), (str(_CACHE), "$XDG_CACHE_HOME/offline-qa")):
        if text.startswith(prefix):
            return shown + text[len(prefix):]
    return text if text else '""'


def settings_markdown() -> str:
    """The README's table of every setting (its environment variable, default and meaning), made
    from the model itself so the documentation cannot drift from the code (a test compares them)."""
    lines = ["| setting (environment variable) | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` (`{ENV_PREFIX}{name.upper()}`) | `{_shown(field.default)}` | {description} |")
    return "\n".join(lines) + "\n"


SECRET_SETTINGS = ("api_key",)
URL_SETTINGS = ("kb_endpoint", "api_url")  # a URL may carry credentials (http://user:password@host/...)
MASK = "***"


def unsecret(name: str, value: Any) -> Any:
    """A setting's value as it may be shown (`qa config`, an error line): an API key masked, a URL's
    password too (`http://bob:***@host/`). Whether a key is set is what one checks; the key itself
    would land in terminal scrollback, logs and pasted bug reports."""
    if name in SECRET_SETTINGS and value not in ("", None):  # a key given as 12345678 is still a key
        return MASK
    if name in URL_SETTINGS and value and not isinstance(value, str):  # a URL in a list may hold a password
        return MASK
    if not isinstance(value, str) or not value:
        return value
    if name not in URL_SETTINGS:
        return value
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(value)
        if not parts.netloc and "@" in value:  # no scheme (`bob:pw@host/sparql`): urlsplit sees no user part
            user, _, rest = value.rpartition("@")  # up to the last "@": a password may hold "@" or "/"
            return f"{user.split(':', 1)[0]}:{MASK}@{rest}" if ":" in user else f"{MASK}@{rest}"
        if parts.username is None and parts.password is None:
            return value
        host = parts.netloc.rsplit("@", 1)[1]
        if parts.password is None:  # `http://TOKEN@host/`: a user part alone is often the secret
            return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))
    except ValueError:  # no URL urlsplit reads ("http://[::1"): the user part masked as written
        return re.sub(r"(//[^/@:\s]*:)[^/@\s]*@", rf"\1{MASK}@", value)


def _one_line(exc: ValidationError, cfg: Path, toml: dict[str, Any], given: dict[str, Any],
              flags: Mapping[str, str]) -> str:
    """The first validation error as one line naming where the bad value came from."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err.get("loc") else ""
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")  # pydantic's prefix says nothing
    if not field:  # a check of several settings together: its message opens with the one at fault
        field = next((name for name in sorted(Settings.model_fields, key=len, reverse=True)
                      if msg.startswith(name + " ")), "")
    env = f"{ENV_PREFIX}{field.upper()}"
    if field in given and field in flags:
        return f"invalid value for {flags[field]} ({unsecret(field, given[field])!r}): {msg}"
    if field in given:
        return f"setting {field}={unsecret(field, given[field])!r}: {msg}"
    if field and env in {k.upper() for k in os.environ}:
        raw = next(v for k, v in os.environ.items() if k.upper() == env)
        return f"{env}={unsecret(field, raw)!r}: {msg}"
    if field in toml:
        return f"{cfg}: {field} = {unsecret(field, toml[field])!r}: {msg}"
    return f"settings: {field + ': ' if field else ''}{msg}"
