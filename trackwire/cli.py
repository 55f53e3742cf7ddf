"""`trackwire` console script: one group, one subcommand per stage.

Subcommands import their stage lazily so `trackwire decode` does not pay for Kafka/Faust imports.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trackwire")
def main() -> None:
    """trackwire: ingestion pipeline for GPS wearables and trackers."""


@main.command()
@click.option("--hex", "as_hex", is_flag=True, help="Lines are hex-encoded bytes (spaces allowed).")
@click.option("--transport", type=click.Choice(["tcp", "udp"]), default="tcp", show_default=True,
              help="tcp: all lines are one connection's byte stream; udp: each line is one datagram.")
@click.argument("source", type=click.File("rb"), default="-")
def decode(as_hex: bool, transport: str, source) -> None:
    """Decode captured device traffic from SOURCE (a file or - for stdin), one capture per line.

    Prints one JSON object per line for each record, reply and error; each carries "line", the
    1-based input line whose bytes completed its frame.
    """
    from trackwire.decode_cmd import run_decode

    run_decode(source, as_hex=as_hex, transport=transport, out=click.get_text_stream("stdout"))


@main.command()
@click.option("--bootstrap-servers", default=None, help="Kafka bootstrap servers (default: env or 127.0.0.1:9092).")
@click.option("--prefix", "topic_prefix", default=None, help="Topic name prefix (default: env or 'trackwire.').")
def topics(bootstrap_servers: str | None, topic_prefix: str | None) -> None:
    """Create or update every trackwire topic (idempotent) and print what was done."""
    from trackwire.topics_cmd import run_topics

    run_topics(bootstrap_servers=bootstrap_servers, topic_prefix=topic_prefix)


if __name__ == "__main__":
    main()
