"""Reports stage: great-tables HTML pages rendered from the warehouse (DESIGN §6).

`render_all(con, out_dir)` writes `annual_<FY>.html`, `validation_<stem>.html`, `trends.html`
(with several municipalities, a comparison linking `trends_<municipality>.html`) and
`index.html`. Pages are whole UTF-8 documents that fetch nothing and escape all sheet text;
a page whose data and code have not changed since it was written is left as it is.
"""

from ukiha_pipeline.reports._render import render_all

__all__ = ["render_all"]
