"""``sgxra verify-quote``, ``sgxra collateral fetch`` and ``sgxra pcs-mock``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sgxra.cli.exit_codes import fail
from sgxra.cli.inputs import INPUT_HELP, QUOTE, parse_time, read_certificate, read_input
from sgxra.errors import SgxRaError
from sgxra.pcs.key import MAX_EVALUATION_DATA_NUMBER, UPDATE_TYPES

if TYPE_CHECKING:
    from sgxra.verify.dcap import DcapVerdict

PathArg = click.Path(exists=True, dir_okay=False, path_type=Path)


def verdict_json(verdict: DcapVerdict) -> dict[str, Any]:
    from sgxra.cli.describe import to_json_value

    return {
        "status": verdict.status.value,
        "advisory_ids": list(verdict.advisory_ids),
        "platform_status": verdict.platform_status.value,
        "qe_status": verdict.qe_status.value,
        "tdx_module_status": verdict.tdx_module_status.value if verdict.tdx_module_status else None,
        "tcb_date": verdict.tcb_date,
        "tcb_evaluation_data_number": verdict.tcb_evaluation_data_number,
        "collateral_expiry": verdict.collateral_expiry.isoformat(),
        "quote_version": verdict.quote.version,
        "tee": "TDX" if verdict.quote.is_tdx else "SGX",
        "report_body": to_json_value(verdict.quote.body),
        "pck": to_json_value(verdict.pck) | {"pck_ca": verdict.ca_type},
    }


@click.command("verify-quote", help="Verify a DCAP (ECDSA) quote against collateral.\n\n"
                                    f"QUOTE: {INPUT_HELP}")
@click.argument("quote_arg", metavar="QUOTE")
@click.option("--collateral", "collateral_file", required=True, type=PathArg,
              help="Collateral JSON (the nine-field form `sgxra collateral fetch` writes).")
@click.option("--at", "at_text", help="Verification time: ISO-8601 or Unix seconds (default: now).")
@click.option("--root", "root_file", envvar="SGXRA_DCAP_ROOT", type=PathArg,
              help="Trust this root instead of Intel's pinned SGX Root CA (a simulated PKI's; env SGXRA_DCAP_ROOT).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_quote_cmd(quote_arg: str, collateral_file: Path, at_text: str | None, root_file: Path | None,
                     as_json: bool) -> None:
    from sgxra.verify.dcap import verify_dcap_quote
    from sgxra.wire.collateral import Collateral

    try:
        at = parse_time(at_text) if at_text else datetime.now(timezone.utc)
        root = read_certificate(root_file)
        verdict = verify_dcap_quote(read_input(quote_arg, "quote", QUOTE), Collateral.from_json(collateral_file.read_bytes()),
                                    at=at, root=root)
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    described = verdict_json(verdict)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    click.echo(f"genuine {described['tee']} quote (v{verdict.quote.version}), verified at {at.isoformat()}")
    for name in ("status", "advisory_ids", "platform_status", "qe_status", "tcb_date", "collateral_expiry"):
        click.echo(f"  {name}: {described[name]}")
    body = described["report_body"]
    for name in ("mr_enclave", "mr_signer", "isv_prod_id", "isv_svn", "mr_td"):
        if name in body:
            click.echo(f"  {name}: {body[name]}")
    click.echo(f"  fmspc: {verdict.pck.fmspc.hex()}  pck_ca: {verdict.ca_type}")


@click.group("collateral")
def collateral_group() -> None:
    """DCAP collateral: fetch it from Intel's PCS or a PCCS."""


@collateral_group.command("fetch", help="Fetch the collateral for a quote (its TEE, FMSPC and PCK CA) as the "
                                        f"nine-field JSON.\n\nQUOTE: {INPUT_HELP}")
@click.argument("quote_arg", metavar="QUOTE")
@click.option("--pccs", help="A PCCS (or PCS mock) base URL: its root, e.g. https://pccs:8081, or its SGX tree, "
                             "e.g. https://pccs:8081/sgx/certification/v4 (default: Intel's PCS v4). TDX quotes "
                             "take TCB info and QE identity from the /tdx/certification/v4 tree beside it.")
@click.option("--tdx-base-url", help="Where TDX TCB info and QE identity are, if not beside the SGX tree.")
@click.option("--root-ca-crl-url", help="Where to get the root CA CRL (default: the PCCS's /rootcacrl, or the "
                                        "root certificate's CRL distribution point for Intel's PCS).")
@click.option("--update", type=click.Choice(UPDATE_TYPES), default="standard", show_default=True,
              help="Which TCB evaluation data set: the standard one or the early one.")
@click.option("--tcb-evaluation-data-number", type=click.IntRange(0, MAX_EVALUATION_DATA_NUMBER),
              help="Ask for this TCB evaluation data set by number (then --update is not sent).")
@click.option("--api-key", envvar="SGXRA_PCS_API_KEY", help="PCS subscription key, if the service wants one.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def collateral_fetch_cmd(quote_arg: str, pccs: str | None, tdx_base_url: str | None, root_ca_crl_url: str | None,
                         update: str, tcb_evaluation_data_number: int | None, api_key: str | None,
                         output: Path | None) -> None:
    from sgxra.pcs.client import INTEL_PCS_V4, PcsClient, PcsSettings
    from sgxra.pcs.verifier import collateral_key
    from sgxra.wire.dcap_quote import DcapQuote

    try:
        key = collateral_key(DcapQuote.parse(read_input(quote_arg, "quote", QUOTE)), update=update,
                             tcb_evaluation_data_number=tcb_evaluation_data_number)
        settings = PcsSettings(base_url=pccs or INTEL_PCS_V4, root_ca_crl_url=root_ca_crl_url, api_key=api_key,
                               tdx_base_url=tdx_base_url)
        with PcsClient(settings) as pcs:
            collateral = pcs.fetch(key)
    except (SgxRaError, OSError, ValueError) as e:
        fail(e)
    if output:
        output.write_text(collateral.to_json())
        click.echo(f"collateral for {key.label()} written to {output}", err=True)
    else:
        click.echo(collateral.to_json())


@click.command("pcs-mock")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".sgxra/pcs-mock"),
              show_default=True, help="Where the SIMULATED Intel PKI is kept (clients reuse it).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8082, show_default=True, type=int)
def pcs_mock_cmd(state_dir: Path, host: str, port: int) -> None:
    """Serve PCS-compatible collateral from a simulated Intel PKI (development only): SGX and TDX."""
    import uvicorn

    from sgxra.pcs.mock import MockPcs, create_app
    from sgxra.sim.dcap_pki import CollateralSpec, SimIntelPki, SimTcbLevel
    from sgxra.sim.dcap_qe import DEFAULT_COMPONENTS, DEFAULT_FMSPC
    from sgxra.sim.tdx_qe import DEFAULT_TDX_COMPONENTS, DEFAULT_TDX_FMSPC, DEFAULT_TEE_TCB_SVN
    from sgxra.wire.collateral import TcbStatus

    def now() -> datetime:
        return datetime.now(timezone.utc)

    pki = SimIntelPki.load_or_create(state_dir, now())
    sgx = CollateralSpec(DEFAULT_FMSPC, tcb_levels=[SimTcbLevel(DEFAULT_COMPONENTS, 13, TcbStatus.UpToDate)])
    tdx = CollateralSpec(DEFAULT_TDX_FMSPC, tee="tdx", tcb_levels=[SimTcbLevel(
        DEFAULT_TDX_COMPONENTS, 13, TcbStatus.UpToDate, tdx_components=tuple(DEFAULT_TEE_TCB_SVN))])
    root_path = state_dir / "sim-root.pem"
    click.echo("SIMULATED PCS: collateral is signed by a root that is not Intel's.")
    click.echo(f"export SGXRA_DCAP_ROOT={root_path}")
    click.echo(f"base URL: http://{host}:{port} (SGX FMSPC {DEFAULT_FMSPC.hex().upper()}, "
               f"TDX FMSPC {DEFAULT_TDX_FMSPC.hex().upper()})")
    mock = MockPcs(pki, {DEFAULT_FMSPC: sgx}, now, tdx_specs={DEFAULT_TDX_FMSPC: tdx})
    uvicorn.run(create_app(mock), host=host, port=port, log_level="warning")
