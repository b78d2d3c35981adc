"""The ground floor: the user's source code as every stage reads it. Where a line is
(``SourceLoc``, the user's frame of a traceback, a path as the report shows it), reading a file
or a notebook's cells as Python (``read_source``, an edit being checked again), what the text
says without running it (assignments, device moves, statements by line), and the Python
literals the command line gives (``--init``).

It imports nothing of vaelint but the vocabulary (``errors``, ``vocab``): the front ends,
capture, facts, rules, fixes and reports all stand on it, so it can stand on none of them."""
