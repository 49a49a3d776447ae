"""``sgxra quote``: a quote over given report data from a backend (QuoteGenerationSample's job)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from sgxra.backends.base import QuoteSource
from sgxra.cli.exit_codes import fail
from sgxra.errors import SgxRaError
from sgxra.wire.any_quote import parse_quote
from sgxra.wire.dcap_quote import TEE_TYPE_TDX
from sgxra.wire.quote import EpidQuote

BACKENDS = ("sim", "gramine", "tsm")
BACKEND_HELP = ("Where quotes come from: sim (simulated SGX ECDSA QE, or a simulated TD with --tdx), gramine "
                "(/dev/attestation inside Gramine on SGX hardware), tsm (Linux configfs-tsm in a TDX guest).")
ROOT_HELP = ("The backend's directory (default /dev/attestation for gramine, /sys/kernel/config/tsm/report for "
             "tsm); point it at a fake tree to test.")


def make_source(backend: str, root: Path | None, *, tdx: bool = False,
                dcap_state: Path = Path(".sgxra/pcs-mock")) -> QuoteSource:
    if backend == "gramine":
        from sgxra.backends.gramine import DEFAULT_ROOT, GramineAttestation

        return GramineAttestation(root or DEFAULT_ROOT)
    if backend == "tsm":
        from sgxra.backends.tsm import DEFAULT_ROOT as TSM_ROOT
        from sgxra.backends.tsm import TsmReport

        return TsmReport(root or TSM_ROOT)
    from sgxra.backends.sim import SimQuoteSource
    from sgxra.sim.dcap_pki import SimIntelPki

    return SimQuoteSource(SimIntelPki.load_or_create(dcap_state, datetime.now(timezone.utc)), tdx=tdx)


def describe_quote(quote: bytes) -> str:
    parsed = parse_quote(quote)
    if isinstance(parsed, EpidQuote):
        return f"EPID quote version {parsed.version}, {parsed.sign_type.name.lower()}, {len(quote)} bytes"
    tee = "TDX" if parsed.header.tee_type == TEE_TYPE_TDX else "SGX"
    return f"DCAP quote version {parsed.header.version}, {tee}, {len(quote)} bytes"


def _report_data(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 64:
        raise click.BadParameter("must be 64 bytes as 128 hex digits", param_hint="--report-data")
    return raw


@click.command("quote")
@click.option("--backend", type=click.Choice(BACKENDS), default="sim", show_default=True, help=BACKEND_HELP)
@click.option("--report-data", "report_data", required=True, metavar="HEX",
              help="The 64 bytes of report data the quote carries (128 hex digits).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the quote here (binary); default: hex on stdout.")
@click.option("--backend-root", type=click.Path(file_okay=False, path_type=Path), help=ROOT_HELP)
@click.option("--tdx", is_flag=True, help="sim backend: quote a simulated TD (version-4 TDX quote).")
@click.option("--dcap-state", type=click.Path(file_okay=False, path_type=Path), default=Path(".sgxra/pcs-mock"),
              show_default=True, help="sim backend: the simulated Intel PKI shared with `sgxra pcs-mock`.")
def quote_cmd(backend: str, report_data: str, output: Path | None, backend_root: Path | None, tdx: bool,
              dcap_state: Path) -> None:
    """Make a quote over REPORT_DATA and write it (the job of Intel's QuoteGenerationSample)."""
    data = _report_data(report_data)
    if tdx and backend != "sim":
        raise click.BadParameter("only the sim backend is told what to quote; tsm makes TDX quotes itself",
                                 param_hint="--tdx")
    try:
        quote = make_source(backend, backend_root, tdx=tdx, dcap_state=dcap_state).quote(data)
        described = describe_quote(quote)
        if output:
            output.write_bytes(quote)
    except (SgxRaError, OSError) as e:
        fail(e)
    if backend == "sim":
        click.echo("SIMULATED: this quote chains to the simulated Intel PKI, not to Intel's root.", err=True)
    click.echo(f"{backend}: {described}, report data {data.hex()[:16]}...", err=True)
    if output:
        click.echo(f"written to {output}", err=True)
    else:
        click.echo(quote.hex())
