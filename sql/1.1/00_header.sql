\echo Use "ALTER EXTENSION pipeline UPDATE TO '1.1'" to load this file. \quit
/* pipeline 1.0 -> 1.1.  A new 1.1 install runs the 1.0 script, then this (the
   Makefile drops the line above). */
