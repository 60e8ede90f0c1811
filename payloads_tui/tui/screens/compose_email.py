"""`ComposeEmailForm`: a test email to send through the local SMTP receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.widgets import Input, TextArea

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.validation import mailbox_address
from payloads_tui.tui.calls import workspace_work
from payloads_tui.tui.messages import EmailSent
from payloads_tui.tui.screens.form_screen import SavingForm, WorksBeforeClosing
from payloads_tui.tui.widgets.form import FieldRow


@dataclass(frozen=True)
class TestEmail:
    """What to send."""

    to: list[str]
    sender: str
    subject: str
    body: str
    attachments: list[str] = field(default_factory=list)  # absolute paths: the service reads them


class ComposeEmailForm(WorksBeforeClosing, SavingForm[TestEmail]):
    """To, from, subject, body and attachments; ctrl+s sends, and the form closes once the mail went
    (a refusal stays in the form with everything typed)."""

    SUBMIT_LABEL = "Send"
    TITLE_TEXT = "Send a test email"

    def __init__(self, to: str = "") -> None:
        super().__init__()
        self.to = to

    def fields(self) -> ComposeResult:
        yield FieldRow("To", Input(self.to, id="f-to", compact=True, placeholder="billing@payloads.localhost"),
                       name="to", hint="one or more addresses, comma-separated")
        yield FieldRow("From", Input("you@example.com", id="f-from", compact=True), name="from")
        yield FieldRow("Subject", Input("Test from the console", id="f-subject", compact=True), name="subject")
        yield FieldRow("Body", TextArea("Hello from the Payloads console.", id="f-body", compact=True,
                                        soft_wrap=True), name="body")
        yield FieldRow("Attach", Input("", id="f-attach", compact=True, placeholder="e.g. ~/invoice.pdf"),
                       name="attach", hint="files to attach, comma-separated (optional)")

    def submit(self) -> TestEmail:
        to = [a.strip() for a in self.value("f-to").split(",") if a.strip()]
        if not to:
            raise ValidationError("name at least one address", "to")
        for address in to:
            mailbox_address(address, "to")
        sender = self.value("f-from")
        mailbox_address(sender, "from")
        attachments = []
        for typed in (p.strip() for p in self.value("f-attach").split(",")):
            if not typed:
                continue
            path = Path(typed).expanduser().resolve()
            if not path.is_file():
                raise ValidationError(f"{typed}: no such file" if not path.exists() else f"{typed} is not a file",
                                      "attach")
            attachments.append(str(path))
        return TestEmail(to, sender, self.value("f-subject"), self.query_one("#f-body", TextArea).text, attachments)

    @workspace_work("send the test email", group="email")
    async def run_request(self, email: TestEmail) -> None:
        reply = await self.workspace.send_test_email(to=email.to, sender=email.sender, subject=email.subject,
                                                     body=email.body, attachments=email.attachments)
        self.post_message(EmailSent(email.to, str(reply)))

    def on_email_sent(self, message: EmailSent) -> None:
        message.stop()
        self.done(EmailSent(message.to, message.reply))
