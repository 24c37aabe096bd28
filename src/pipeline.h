/*
 * pipeline.h
 *		Module-wide settings of the pipeline extension.
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include "compat.h"

/* pipeline.enforce_transitions (superuser-only; default on). */
extern bool pipeline_enforce_transitions;

#endif							/* PIPELINE_H */
