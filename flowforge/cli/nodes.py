"""`flowforge nodes ...`: the node types a control plane knows."""

import typer

from flowforge.cli.client import connect, print_json
from flowforge.cli.options import DataDir, Json, Token, Url

app = typer.Typer(help="List installed node types.", no_args_is_help=True)

QUERY = """{ nodeTypes { type version title description ports pure lightweight
  inputSchema outputSchema configSchema } }"""


@app.command("list")
def list_nodes(
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List node types with how they run; --json adds their port and config schemas.

    Example: flowforge nodes list
    """
    node_types = connect(url, token, data_dir).execute(QUERY)["nodeTypes"]
    if json:
        print_json(node_types)
        return
    for node in node_types:
        how = "pure" if node["pure"] else "lightweight" if node["lightweight"] else "activity"
        typer.echo(f"{node['type']:<20} v{node['version']}  {how:<11}  {node['title']}")
