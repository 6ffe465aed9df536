
import logging as _logging


def _convertible(record: _logging.LogRecord) -> bool:
    # rdflib logs a traceback for each literal Python has no value for (an xsd:date of a year
    # before the common era, "-0099-07-12"): valid data, compared as SPARQL compares it
    return not record.getMessage().startswith("Failed to convert Literal lexical form")


_logging.getLogger("rdflib.term").addFilter(_convertible)
