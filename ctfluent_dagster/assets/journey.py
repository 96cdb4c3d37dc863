"""The ``record_journey`` job: a record's journey (see ``journey.py``) as Markdown metadata of the run, with links
to the runs that touched the record."""

from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op
from pydantic import Field

from ctfluent_dagster.assets.common import run_url
from ctfluent_dagster.journey import SEARCHED_AS, commercetools_messages, find_journey, render_markdown
from ctfluent_dagster.privacy import email_digest
from ctfluent_dagster.resources import CommercetoolsResource, LedgerResource


class JourneyConfig(Config):
    identifier: str = Field(
        description=f"What to look up: a record's {SEARCHED_AS}. Give an email as its digest (`ctfluent-journey "
        "--digest EMAIL` prints it): Dagster keeps a run's config, so an email given here stays in it in clear."
    )
    limit: int = Field(default=500, ge=1, description="At most this many attempts, the newest.")
    messages: bool = Field(default=True, description="Read the commercetools messages of the records' resources.")


@op(description=f"Report everything the project knows about one record, found by its {SEARCHED_AS}.")
def record_journey_report(
    context: OpExecutionContext, config: JourneyConfig, ledger: LedgerResource, commercetools: CommercetoolsResource
) -> Output[None]:
    reader = commercetools_messages(commercetools.get_client()) if config.messages else None
    note = None if config.messages else "commercetools messages not read (messages: false in the run config)"
    journey = find_journey(ledger.get_ledger(), config.identifier, reader, limit=config.limit, messages_note=note)
    context.log.info(f"journey of {journey.summary()}")
    if "@" in config.identifier:
        context.log.warning(
            "this run's config holds an email in clear (Dagster keeps it with the run); next time launch with its "
            f"digest, {email_digest(config.identifier)}, and delete this run from Runs to forget the email"
        )
    if journey.messages_note:
        context.log.warning(journey.messages_note)
    metadata = {
        "report": MetadataValue.md(render_markdown(journey, run_url)),
        "records": MetadataValue.int(len(journey.records)),
        "attempts": MetadataValue.int(len(journey.attempts)),
        "runs": MetadataValue.int(len(journey.runs)),
    }
    return Output(None, metadata=metadata)


@job(
    description="A record's journey: the messages seen, the runs that touched it, every attempt with its outcome, "
    "what it waits for, its Fluent ref and id today. Launch it with the record's commercetools id, email, order "
    "number or SKU as `identifier`; the report is the step's output metadata."
)
def record_journey() -> None:
    record_journey_report()
