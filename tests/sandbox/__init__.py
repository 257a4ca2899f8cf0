"""Tests of the emulated platform stores."""
