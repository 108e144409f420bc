"""The interview as a web app and a JSON HTTP API (FastAPI under uvicorn; the ``serve`` extra).

Why FastAPI: it is maintained, runs under uvicorn (a production ASGI server), validates request
bodies against typed models and publishes the API's schema as OpenAPI (``/openapi.json``, browsable
at ``/docs`` where the browser can load Swagger UI) from the same models, so the documentation cannot
drift from the code. Pages are rendered on the server by Jinja2's sandboxed environment with
autoescaping on (every statement and id is escaped); they use no JavaScript.

Pages: ``/`` (start), ``/s/{token}`` (the pending question, or the predictions at the end; the form
posts back to it). API: ``POST /api/sessions`` (start), ``GET /api/sessions/{token}`` (state and
pending question), ``POST /api/sessions/{token}/answers`` (``{"seq": n, "answer": k | "skip"}``),
``GET /api/sessions/{token}/predictions``, ``POST /api/sessions/{token}/finish``. Errors are
``{"error": "..."}`` with 404 (unknown session), 409 (finished, replayed or concurrent answer), 422
(invalid input) or 503 (too many open interviews). Every response carries ``Cache-Control: no-store``
and ``Referrer-Policy: no-referrer`` (the token is in the address), and a strict
Content-Security-Policy.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import PackageLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, Field, StrictInt, StrictStr

from ivr.elicit.live import LiveInterviews
from ivr.elicit.store import SessionError

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
REASONS = {
    "target": "the predictions reached the target accuracy",
    "gain": "another question would hardly improve the predictions",
    "max": "the maximum number of questions was reached",
    "exhausted": "there were no more questions to ask",
    "respondent": "you stopped the interview",
}
MAX_FORM_BYTES = 4096


class Question(BaseModel):
    index: int = Field(description="question index in the codebook")
    id: str = Field(description="question id")
    category: str
    number: int = Field(description="1-based position of this question in the interview")
    options: list[str] = Field(description="the statements; answer with an option number 1..len(options)")


class SessionView(BaseModel):
    token: str = Field(description="the session's secret token (keep it private)")
    seq: int = Field(description="sequence number the next answer must carry (= answers recorded)")
    asked: int
    answered: int = Field(description="asked questions not skipped")
    max_questions: int
    target: float | None = Field(description="expected accuracy that ends the interview")
    min_gain: float | None = Field(description="expected gain of the next question below which it ends")
    expected_accuracy: float = Field(description="mean probability of the most probable option over the probes")
    done: bool
    reason: str | None = Field(description="why it ended: target, gain, max, exhausted or respondent")
    question: Question | None = Field(description="the pending question (null when done)")


class AnswerIn(BaseModel):
    seq: StrictInt = Field(description="the seq shown with the question being answered")
    answer: StrictInt | StrictStr = Field(description='option number 1..n, or "skip"')


class OptionOut(BaseModel):
    option: int
    statement: str
    probability: float


class ProbeOut(BaseModel):
    id: str
    category: str
    options: list[OptionOut] = Field(description="most probable first")


class PredictionsOut(BaseModel):
    token: str
    asked: int
    expected_accuracy: float
    probes: list[ProbeOut]


class ErrorOut(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorOut} for s in (404, 409, 422, 503)}


def templates() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(loader=PackageLoader("ivr.elicit", "templates"), autoescape=True)


def create_app(live: LiveInterviews, top: int = 3) -> FastAPI:
    """The web app and API over ``live`` (module doc)."""
    app = FastAPI(
        title="ivr adaptive interview",
        version="1",
        description="Adaptive value interviews: one statement question at a time, predictions at the end.",
    )
    env = templates()
    css = resources.files("ivr.elicit").joinpath("templates/style.css").read_text(encoding="utf-8")

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status, headers=HEADERS)

    def json_error(err: SessionError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status, headers=HEADERS)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = ["/".join(str(x) for x in e.get("loc", ())[1:]) + ": " + e.get("msg", "") for e in exc.errors()]
        return JSONResponse(
            {"error": "invalid request: " + "; ".join(parts or ["malformed body"])}, status_code=422, headers=HEADERS
        )

    @app.exception_handler(SessionError)
    async def session_error(request: Request, exc: SessionError) -> Response:
        if request.url.path.startswith("/api/"):
            return json_error(exc)
        token = request.path_params.get("token")
        known = exc.status != 404 and token and live.store is not None
        return page("error.html", exc.status, message=str(exc), token=token if known else None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    # ---- pages -----------------------------------------------------------------------------------
    @app.get("/style.css", include_in_schema=False)
    def style() -> Response:
        return PlainTextResponse(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def start_page() -> HTMLResponse:
        return page("start.html", n_probes=len(live.probes), max_questions=live.rule.max_questions)

    @app.post("/start", include_in_schema=False)
    def start_form() -> RedirectResponse:
        token = live.start()
        return RedirectResponse(f"/s/{token}", status_code=303, headers=HEADERS)

    @app.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
    def session_page(token: str) -> HTMLResponse:
        view = live.view(token)
        if view["question"] is not None:
            return page("question.html", v=view, q=view["question"])
        return page(
            "result.html",
            v=view,
            p=live.predictions(token),
            top=top,
            reason=REASONS.get(view["reason"] or "", "it ended"),
        )

    @app.post("/s/{token}", include_in_schema=False)
    async def session_form(token: str, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise SessionError("the form is too large", 413)
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if "stop" in form:
            await run_in_threadpool(live.finish, token)
        else:
            answer = "skip" if "skip" in form else form.get("option")
            if answer is None or answer == "":
                raise SessionError("choose one of the statements, or skip the question", 422)
            await run_in_threadpool(live.answer, token, form.get("seq", ""), answer)
        return RedirectResponse(f"/s/{token}", status_code=303, headers=HEADERS)

    # ---- JSON API --------------------------------------------------------------------------------
    @app.post(
        "/api/sessions", status_code=201, response_model=SessionView, responses=ERRORS, summary="Start an interview"
    )
    def api_start() -> dict[str, Any]:
        return live.view(live.start())

    @app.get(
        "/api/sessions/{token}",
        response_model=SessionView,
        responses=ERRORS,
        summary="The interview's state and its pending question",
    )
    def api_view(token: str) -> dict[str, Any]:
        return live.view(token)

    @app.post(
        "/api/sessions/{token}/answers",
        response_model=SessionView,
        responses=ERRORS,
        summary='Answer the pending question (option number or "skip"); returns the next state',
    )
    def api_answer(token: str, body: AnswerIn) -> dict[str, Any]:
        return live.answer(token, body.seq, body.answer)

    @app.get(
        "/api/sessions/{token}/predictions",
        response_model=PredictionsOut,
        responses=ERRORS,
        summary="Predicted answers to the probe questions, with probabilities",
    )
    def api_predictions(token: str) -> dict[str, Any]:
        return live.predictions(token)

    @app.post(
        "/api/sessions/{token}/finish",
        response_model=SessionView,
        responses=ERRORS,
        summary="End the interview now (answers so far are kept)",
    )
    def api_finish(token: str) -> dict[str, Any]:
        return live.finish(token)

    return app
