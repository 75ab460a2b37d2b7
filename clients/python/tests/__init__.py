"""Unit tests of the curvehost package; run from clients/python: python3 -m unittest discover"""
