from mailhelpdesk.cli import main

raise SystemExit(main())
