"""``python -m gtx``: the gtx command."""

from gtx.cli import main

raise SystemExit(main())
