/*
 * history.h
 *		The stage history writer (history.c).
 */
#ifndef PIPELINE_HISTORY_H
#define PIPELINE_HISTORY_H

#include "compat.h"

/* _PG_init: install the end-of-statement hooks and transaction callbacks. */
extern void history_init(void);

/* Write every queued history row now. */
extern void history_flush_all(void);

#endif							/* PIPELINE_HISTORY_H */
