"""Captions from an OpenAI-compatible chat model: structured output, retries with backoff, a request budget.

The API key is read from the environment (OPENAI_API_KEY) by the caller and handed to the `openai`
client only; it is never printed, logged, or written, and is blanked out of any server message
quoted in an error.
"""

import json
import time
import typing as tp

import numpy as np

from ..utils.errors import BeatLMError
from .captions import response_schema
from .step_utils import StepSummary
from .synth.styles import all_styles

SYSTEM_PROMPT = (
    "You write captions for a data set of rap instrumentals (hip-hop beats without vocals). Each caption "
    "describes one plausible beat the way a producer or listener would: its feel, drums, bass, melodic "
    "instruments and production. Never name real artists or songs. Answer with JSON only.")
RETRY_STATUS = (408, 409, 429)
RECENT_EXAMPLES = 3


class RequestFailed(Exception):
    """A request failed after all its retries (counted, not fatal on its own)."""


class BudgetExhausted(Exception):
    """The request budget is spent."""


class ChatSource:
    """Batches of caption candidates from a chat model.

    Args:
        model: Model name.
        api_key: The API key (never printed).
        base_url: Server base URL (None: the client's default, or OPENAI_BASE_URL).
        per_request: Captions asked for in one request.
        max_requests: Request budget of this run, retries included.
        max_retries: Retries of one request on 429, 5xx, timeouts and dropped connections.
        backoff: First retry delay in seconds; doubles each retry (a server's Retry-After wins if longer).
        max_backoff: Longest delay between retries.
        timeout: Seconds before a request times out.
        max_failures: Stop (BeatLMError) after this many failed requests in a row.
        seed: Seed of the style and mood hints of each request.
        temperature: Sampling temperature.
        client: An `openai.OpenAI`-like client to use instead of building one (tests).
    """

    name = "openai"

    def __init__(self, model: str, api_key: str, base_url: tp.Optional[str] = None, per_request: int = 10,
                 max_requests: int = 200, max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 60.0,
                 timeout: float = 60.0, max_failures: int = 5, seed: int = 0, temperature: float = 1.0,
                 client: tp.Any = None):
        if not api_key:
            raise BeatLMError("OPENAI_API_KEY is not set; export it, or write captions offline with --backend template")
        if per_request < 1 or max_requests < 1 or max_retries < 0 or backoff < 0 or timeout <= 0:
            raise BeatLMError("--per-request and --max-requests must be >= 1, --max-retries and --backoff >= 0, "
                              "--timeout > 0")
        self.model = model
        self._secret = api_key
        self.per_request = per_request
        self.max_requests = max_requests
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_failures = max_failures
        self.seed = seed
        self.temperature = temperature
        self.stats = StepSummary("requests")
        self.stop_reason: tp.Optional[str] = None
        self.requests = 0
        self._reached = False
        if client is None:
            import openai
            client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self.client = client
        self.base_url = str(getattr(client, "base_url", base_url or "the API"))

    # messages -----------------------------------------------------------------------------------

    def messages(self, request: int, recent: tp.Sequence[str]) -> tp.List[tp.Dict[str, str]]:
        """The chat messages of request number `request` (a style and mood hint drawn from the seed)."""
        styles = list(all_styles().values())
        rng = np.random.default_rng([self.seed, request])
        style = styles[int(rng.integers(len(styles)))]
        moods = [str(m) for m in rng.choice(style["words"]["moods"], size=2, replace=False)]
        names = ", ".join(s.name for s in styles)
        lines = [
            f"Write {self.per_request} different captions of {style.label} instrumentals, some {moods[0]}, "
            f"some {moods[1]}, others as you like. Vary tempo, key, drums, instruments and wording.",
            "Fields: description (1-3 sentences), style (one of: " + names + "), bpm (integer), key (like "
            "'F minor' or null), moods (2-4 words), instruments (2-6), query (a YouTube search query that "
            "would find such an instrumental, e.g. 'dark trap type beat 140 bpm').",
        ]
        if recent:
            lines.append("Do not repeat these earlier captions: " + " | ".join(recent[-RECENT_EXAMPLES:]))
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]

    # requests -----------------------------------------------------------------------------------

    def _redact(self, text: tp.Any) -> str:
        text = " ".join(str(text).split())[:200]
        return text.replace(self._secret, "***") if self._secret else text

    def _fatal(self, exc: Exception) -> BeatLMError:
        status = getattr(exc, "status_code", None)
        if status == 401:
            return BeatLMError(f"{self.base_url} refused the API key (HTTP 401); check OPENAI_API_KEY, or use "
                               "--backend template")
        if status == 404:
            return BeatLMError(f"{self.base_url} answered HTTP 404 (unknown --model {self.model!r} or wrong "
                               f"--base-url?): {self._redact(getattr(exc, 'message', exc))}")
        return BeatLMError(f"{self.base_url} rejected the request (HTTP {status}): "
                           f"{self._redact(getattr(exc, 'message', exc))}")

    def _delay(self, attempt: int, exc: Exception) -> float:
        delay = self.backoff * 2 ** attempt
        response = getattr(exc, "response", None)
        try:
            delay = max(delay, float(response.headers.get("retry-after")))
        except (AttributeError, TypeError, ValueError):
            pass
        return min(delay, self.max_backoff)

    def _create(self, messages: tp.List[tp.Dict[str, str]]) -> tp.Any:
        return self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=self.temperature,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "beat_captions", "strict": True, "schema": response_schema()}})

    def request(self, messages: tp.List[tp.Dict[str, str]]) -> str:
        """The text of one answer, retrying transient failures with exponential backoff.

        Raises:
            BudgetExhausted: No request left in the budget.
            RequestFailed: Still failing after `max_retries` retries.
            BeatLMError: A failure retrying cannot fix (bad key, unknown model, server unreachable).
        """
        import openai
        last: tp.Optional[Exception] = None
        for attempt in range(self.max_retries + 1):
            if self.requests >= self.max_requests:
                raise BudgetExhausted()
            if attempt:
                self.stats.count("retries")
                time.sleep(self._delay(attempt - 1, last))
            self.requests += 1
            try:
                response = self._create(messages)
            except openai.APITimeoutError as exc:
                last = exc
            except openai.APIConnectionError as exc:
                if not self._reached:
                    raise BeatLMError(f"cannot reach {self.base_url} ({self._redact(exc.__cause__ or exc)}); "
                                      "check --base-url / OPENAI_BASE_URL and the network, or use --backend "
                                      "template") from None
                last = exc
            except openai.APIStatusError as exc:
                self._reached = True
                if exc.status_code not in RETRY_STATUS and exc.status_code < 500:
                    raise self._fatal(exc) from None
                last = exc
            else:
                self._reached = True
                return _answer_text(response)
        raise RequestFailed(self._redact(_describe(last)))

    def batches(self, existing: tp.Sequence[tp.Mapping[str, tp.Any]]) -> tp.Iterator[tp.List[tp.Dict[str, tp.Any]]]:
        recent = [str(r.get("description", "")) for r in existing[-RECENT_EXAMPLES:]]
        request_no = len(existing)  # a new run draws new hints
        failures = 0
        while True:
            request_no += 1
            try:
                text = self.request(self.messages(request_no, recent))
                items = parse_answer(text)
            except BudgetExhausted:
                self.stop_reason = f"request budget of {self.max_requests} spent (--max-requests)"
                return
            except (RequestFailed, ValueError) as exc:
                failures += 1
                self.stats.fail(f"request {request_no}", self._redact(exc))
                self.stats.count("failed requests")
                if failures >= self.max_failures:
                    raise BeatLMError(f"{failures} requests in a row failed (last: {self._redact(exc)}); captions so "
                                      "far are kept, re-run later to continue") from None
                continue
            failures = 0
            self.stats.count("requests ok")
            source = {"backend": self.name, "model": self.model, "request": request_no}
            batch = [dict(item, source=source) if isinstance(item, dict) else item for item in items]
            recent.extend(str(item.get("description", "")) for item in items if isinstance(item, dict))
            yield batch


def _answer_text(response: tp.Any) -> str:
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError, TypeError):
        raise ValueError("the answer has no choices") from None
    if getattr(message, "refusal", None):
        raise ValueError("the model refused")
    if not isinstance(message.content, str):
        raise ValueError("the answer has no text")
    return message.content


def parse_answer(text: str) -> tp.List[tp.Any]:
    """The list of candidate captions in an answer's text (`{"captions": [...]}`; a bare list is accepted).

    Raises:
        ValueError: The text is not JSON of that shape.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("the answer is not valid JSON") from None
    if isinstance(data, dict) and isinstance(data.get("captions"), list):
        return data["captions"]
    if isinstance(data, list):
        return data
    raise ValueError('the answer is not {"captions": [...]}')


def _describe(exc: tp.Optional[Exception]) -> str:
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    return type(exc).__name__ if exc is not None else "unknown error"
